/**
 * The Bench service on this package's GrpcServer, served by a request queue
 * on the portable backend (node:http2 underneath).
 */
import {
  GrpcServer,
  createRequestQueue,
  type BidiStreamingHandler,
  type CallContext,
  type ServerStreamingHandler,
  type UnaryHandler,
} from '../../src/index.js';
import { BenchService, bodyOf, type Payload, type StreamRequest } from '../schema.js';
import type { StartedServer } from './types.js';

const Unary: UnaryHandler<Payload, Payload> = async (request) => ({ body: request.body });

const ServerStream: ServerStreamingHandler<StreamRequest, Payload> = async function* (request: StreamRequest, ctx: CallContext) {
  const body = bodyOf(request.size);
  for (let i = 0; i < request.count && !ctx.signal.aborted; i++) yield { body };
};

const PingPong: BidiStreamingHandler<Payload, Payload> = async function* (requests: AsyncIterable<Payload>) {
  for await (const m of requests) yield { body: m.body };
};

export async function start(): Promise<StartedServer> {
  const server = new GrpcServer();
  server.addService(BenchService, { Unary, ServerStream, PingPong });
  const queue = await createRequestQueue({ urls: ['http://127.0.0.1:0/'], backend: 'node' });
  server.listen(queue);
  const url = queue.urls[0];
  const port = url === undefined ? NaN : Number(/:(\d+)\//.exec(url)?.[1]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`cannot read the bound port from ${String(url)}`);
  return {
    port,
    async close() {
      await server.close({ graceful: 1000 });
      await queue.close({ graceful: 1000 });
    },
  };
}
