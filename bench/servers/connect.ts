/**
 * The Bench service on @connectrpc/connect-node over a cleartext node:http2
 * server. The schema is a FileDescriptorProto written here by hand and turned
 * into descriptors at run time with @bufbuild/protobuf v2 (no code generation).
 */
import http2 from 'node:http2';
import { create, createFileRegistry, type Message } from '@bufbuild/protobuf';
import type { GenMessage, GenService } from '@bufbuild/protobuf/codegenv2';
import {
  FileDescriptorProtoSchema,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
} from '@bufbuild/protobuf/wkt';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { bodyOf } from '../schema.js';
import { listenOnLoopback, type StartedServer } from './types.js';

type PayloadMessage = Message<'bench.Payload'> & { body: Uint8Array };
type StreamRequestMessage = Message<'bench.StreamRequest'> & { count: number; size: number };

const optional = FieldDescriptorProto_Label.OPTIONAL;

const file = create(FileDescriptorProtoSchema, {
  name: 'bench.proto',
  package: 'bench',
  syntax: 'proto3',
  messageType: [
    {
      name: 'Payload',
      field: [{ name: 'body', jsonName: 'body', number: 1, label: optional, type: FieldDescriptorProto_Type.BYTES }],
    },
    {
      name: 'StreamRequest',
      field: [
        { name: 'count', jsonName: 'count', number: 1, label: optional, type: FieldDescriptorProto_Type.UINT32 },
        { name: 'size', jsonName: 'size', number: 2, label: optional, type: FieldDescriptorProto_Type.UINT32 },
      ],
    },
  ],
  service: [
    {
      name: 'Bench',
      method: [
        { name: 'Unary', inputType: '.bench.Payload', outputType: '.bench.Payload' },
        { name: 'ServerStream', inputType: '.bench.StreamRequest', outputType: '.bench.Payload', serverStreaming: true },
        {
          name: 'PingPong',
          inputType: '.bench.Payload',
          outputType: '.bench.Payload',
          clientStreaming: true,
          serverStreaming: true,
        },
      ],
    },
  ],
});

const registry = createFileRegistry(file, () => undefined);

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`bench.proto descriptor lacks ${what}`);
  return value;
}

const PayloadSchema = required(registry.getMessage('bench.Payload'), 'bench.Payload') as unknown as GenMessage<PayloadMessage>;
const StreamRequestSchema = required(
  registry.getMessage('bench.StreamRequest'),
  'bench.StreamRequest',
) as unknown as GenMessage<StreamRequestMessage>;

const BenchService = required(registry.getService('bench.Bench'), 'bench.Bench') as unknown as GenService<{
  unary: { methodKind: 'unary'; input: typeof PayloadSchema; output: typeof PayloadSchema };
  serverStream: { methodKind: 'server_streaming'; input: typeof StreamRequestSchema; output: typeof PayloadSchema };
  pingPong: { methodKind: 'bidi_streaming'; input: typeof PayloadSchema; output: typeof PayloadSchema };
}>;

export async function start(): Promise<StartedServer> {
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(BenchService, {
        unary(request) {
          return { body: request.body };
        },
        async *serverStream(request) {
          const body = bodyOf(request.size);
          for (let i = 0; i < request.count; i++) yield { body };
        },
        async *pingPong(requests) {
          for await (const m of requests) yield { body: m.body };
        },
      });
    },
  });
  const server = http2.createServer(handler);
  return listenOnLoopback(server);
}
