/** The Bench service on an @grpc/grpc-js server, serialised with protobufjs (as proto-loader does). */
import * as grpc from '@grpc/grpc-js';
import {
  PATHS,
  decodePayload,
  decodeStreamRequest,
  encodePayload,
  encodeStreamRequest,
  bodyOf,
  type Payload,
  type StreamRequest,
} from '../schema.js';
import type { StartedServer } from './types.js';

const payloadCodec = {
  serialize: (m: Payload): Buffer => Buffer.from(encodePayload(m)),
  deserialize: (b: Buffer): Payload => decodePayload(b),
};

export const benchDefinition: grpc.ServiceDefinition = {
  Unary: {
    path: PATHS.unary,
    requestStream: false,
    responseStream: false,
    requestSerialize: payloadCodec.serialize,
    requestDeserialize: payloadCodec.deserialize,
    responseSerialize: payloadCodec.serialize,
    responseDeserialize: payloadCodec.deserialize,
  },
  ServerStream: {
    path: PATHS.serverStream,
    requestStream: false,
    responseStream: true,
    requestSerialize: (m: StreamRequest): Buffer => Buffer.from(encodeStreamRequest(m)),
    requestDeserialize: (b: Buffer): StreamRequest => decodeStreamRequest(b),
    responseSerialize: payloadCodec.serialize,
    responseDeserialize: payloadCodec.deserialize,
  },
  PingPong: {
    path: PATHS.pingPong,
    requestStream: true,
    responseStream: true,
    requestSerialize: payloadCodec.serialize,
    requestDeserialize: payloadCodec.deserialize,
    responseSerialize: payloadCodec.serialize,
    responseDeserialize: payloadCodec.deserialize,
  },
};

export async function start(): Promise<StartedServer> {
  const server = new grpc.Server();
  server.addService(benchDefinition, {
    Unary(call: grpc.ServerUnaryCall<Payload, Payload>, callback: grpc.sendUnaryData<Payload>) {
      callback(null, { body: call.request.body });
    },
    ServerStream(call: grpc.ServerWritableStream<StreamRequest, Payload>) {
      const { count, size } = call.request;
      const body = bodyOf(size);
      let sent = 0;
      let cancelled = false;
      call.on('cancelled', () => {
        cancelled = true;
      });
      const pump = (): void => {
        while (!cancelled && sent < count) {
          sent++;
          if (!call.write({ body })) {
            call.once('drain', pump);
            return;
          }
        }
        if (!cancelled) call.end();
      };
      pump();
    },
    PingPong(call: grpc.ServerDuplexStream<Payload, Payload>) {
      call.on('data', (m: Payload) => {
        call.write({ body: m.body });
      });
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    );
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}
