/** Serves handlers from a request queue on the portable backend, on a free port of 127.0.0.1. */
import { createRequestQueue } from '../../../src/transport/queue.js';
import type { Handler, Logger, RequestQueue } from '../../../src/transport/types.js';

export interface TestServer {
  readonly port: number;
  readonly queue: RequestQueue;
  close(): Promise<void>;
}

export async function startServer(handlers: readonly Handler[], logger?: Logger): Promise<TestServer> {
  const queue = await createRequestQueue({
    urls: ['http://127.0.0.1:0/'],
    backend: 'node',
    ...(logger ? { logger } : {}),
  });
  for (const h of handlers) queue.serve(h);
  const port = Number(new URL(queue.urls[0]!).port);
  return { port, queue, close: () => queue.close() };
}
