/**
 * The Bench service on this package's GrpcServer, served by a request queue
 * on the portable backend (node:http2 underneath).
 */
import { BenchService, bodyOf, type Payload, type StreamRequest } from '../schema.js';
import type { RequestQueue, RequestQueueOptions } from '../../src/transport/types.js';
import type { StartedServer } from './types.js';

interface CallContextLike {
  readonly signal: AbortSignal;
}

interface GrpcServerLike {
  addService(service: typeof BenchService, implementation: object): unknown;
  listen(queue: RequestQueue): unknown;
  close(options?: { graceful?: number }): unknown;
}

interface PackageEntry {
  GrpcServer: new (options?: object) => GrpcServerLike;
  createRequestQueue(options: RequestQueueOptions): RequestQueue | Promise<RequestQueue>;
}

/** Loads the package entry and checks that the parts the benchmark needs are there. */
async function loadPackage(): Promise<PackageEntry> {
  const entry = new URL('../../src/index.js', import.meta.url).href;
  const mod = (await import(entry)) as Partial<PackageEntry>;
  if (typeof mod.GrpcServer !== 'function' || typeof mod.createRequestQueue !== 'function') {
    throw new Error('the package entry does not export GrpcServer and createRequestQueue');
  }
  return mod as PackageEntry;
}

export async function start(): Promise<StartedServer> {
  const { GrpcServer, createRequestQueue } = await loadPackage();
  const server = new GrpcServer();
  server.addService(BenchService, {
    async Unary(request: Payload): Promise<Payload> {
      return { body: request.body };
    },
    async *ServerStream(request: StreamRequest, ctx: CallContextLike): AsyncGenerator<Payload> {
      const body = bodyOf(request.size);
      for (let i = 0; i < request.count && !ctx.signal.aborted; i++) yield { body };
    },
    async *PingPong(requests: AsyncIterable<Payload>): AsyncGenerator<Payload> {
      for await (const m of requests) yield { body: m.body };
    },
  });
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
