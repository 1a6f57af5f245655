/**
 * The gRPC interop TestService (grpc/testing/test.proto) implemented with this
 * package's handler style, as the interop test descriptions ask of a server.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type protobuf from 'protobufjs';
import { GrpcError, GrpcServer, loadProtos, type CallContext, type GrpcServerOptions, type Status } from '../../src/grpc/index.js';

/** Directory holding src/proto/grpc/testing/*.proto (the sources, not dist). */
export const INTEROP_PROTO_DIR = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../test/interop/proto');
export const TEST_PROTO = 'src/proto/grpc/testing/test.proto';

interface BoolValue {
  value?: boolean;
}
interface Payload {
  type?: number;
  body?: Uint8Array;
}
interface EchoStatus {
  code?: number;
  message?: string;
}
interface ResponseParameters {
  size?: number;
  intervalUs?: number;
  compressed?: BoolValue | null;
}
interface SimpleRequest {
  responseSize?: number;
  payload?: Payload | null;
  responseCompressed?: BoolValue | null;
  responseStatus?: EchoStatus | null;
  expectCompressed?: BoolValue | null;
  fillUsername?: boolean;
}
interface StreamingOutputCallRequest {
  responseParameters?: ResponseParameters[];
  payload?: Payload | null;
  responseStatus?: EchoStatus | null;
}
interface StreamingInputCallRequest {
  payload?: Payload | null;
  expectCompressed?: BoolValue | null;
}

export function loadInteropRoot(): protobuf.Root {
  return loadProtos(TEST_PROTO, { includeDirs: [INTEROP_PROTO_DIR] });
}

function payload(size: number): Payload {
  return { type: 0, body: new Uint8Array(size) };
}

function echoMetadata(ctx: CallContext): void {
  const initial = ctx.metadata.get('x-grpc-test-echo-initial');
  if (typeof initial === 'string') ctx.responseMetadata.set('x-grpc-test-echo-initial', initial);
  const trailing = ctx.metadata.get('x-grpc-test-echo-trailing-bin');
  if (trailing instanceof Uint8Array) ctx.trailers.set('x-grpc-test-echo-trailing-bin', trailing);
}

function checkStatus(status: EchoStatus | null | undefined): void {
  if (status && status.code) throw new GrpcError(status.code as Status, status.message ?? '');
}

function checkCompressed(expect: BoolValue | null | undefined, ctx: CallContext): void {
  if (expect?.value && !ctx.messageCompressed) {
    throw new GrpcError(3 as Status, 'expected a compressed request message');
  }
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

async function* respond(
  params: readonly ResponseParameters[],
  ctx: CallContext,
): AsyncGenerator<{ payload: Payload }> {
  for (const p of params) {
    if (p.intervalUs) await sleep(p.intervalUs / 1000, ctx.signal);
    if (ctx.cancelled) return;
    ctx.compressMessages = p.compressed?.value === true;
    yield { payload: payload(p.size ?? 0) };
  }
}

function wantsCompression(params: readonly ResponseParameters[] | undefined): boolean {
  return (params ?? []).some((p) => p.compressed?.value === true);
}

/** A GrpcServer serving grpc.testing.TestService. */
export function createInteropServer(options: GrpcServerOptions = {}): GrpcServer {
  const root = loadInteropRoot();
  const server = new GrpcServer(options);
  server.addService(root.lookupService('grpc.testing.TestService'), {
    EmptyCall: async () => ({}),

    UnaryCall: async (req: SimpleRequest, ctx: CallContext) => {
      echoMetadata(ctx);
      checkCompressed(req.expectCompressed, ctx);
      checkStatus(req.responseStatus);
      if (req.responseCompressed?.value) ctx.responseEncoding = 'gzip';
      ctx.compressMessages = req.responseCompressed?.value === true;
      return { payload: payload(req.responseSize ?? 0) };
    },

    StreamingOutputCall: async function* (req: StreamingOutputCallRequest, ctx: CallContext) {
      echoMetadata(ctx);
      if (wantsCompression(req.responseParameters)) ctx.responseEncoding = 'gzip';
      yield* respond(req.responseParameters ?? [], ctx);
      checkStatus(req.responseStatus);
    },

    StreamingInputCall: async (requests: AsyncIterable<StreamingInputCallRequest>, ctx: CallContext) => {
      echoMetadata(ctx);
      let size = 0;
      for await (const r of requests) {
        checkCompressed(r.expectCompressed, ctx);
        size += r.payload?.body?.byteLength ?? 0;
      }
      return { aggregatedPayloadSize: size };
    },

    FullDuplexCall: async function* (requests: AsyncIterable<StreamingOutputCallRequest>, ctx: CallContext) {
      echoMetadata(ctx);
      for await (const r of requests) {
        checkStatus(r.responseStatus);
        if (wantsCompression(r.responseParameters)) ctx.responseEncoding = 'gzip';
        yield* respond(r.responseParameters ?? [], ctx);
      }
    },

    HalfDuplexCall: async function* (requests: AsyncIterable<StreamingOutputCallRequest>, ctx: CallContext) {
      echoMetadata(ctx);
      const all: StreamingOutputCallRequest[] = [];
      for await (const r of requests) all.push(r);
      for (const r of all) {
        checkStatus(r.responseStatus);
        yield* respond(r.responseParameters ?? [], ctx);
      }
    },
  });
  return server;
}
