/** Start a GrpcServer on a portable-backend queue at a free port, for tests. */
import type { GrpcServer } from '../../src/grpc/index.js';
import { createRequestQueue } from '../../src/transport/queue.js';
import type { Logger, RequestQueue } from '../../src/transport/types.js';

export interface Served {
  readonly queue: RequestQueue;
  readonly port: number;
  readonly address: string;
  readonly logs: { level: 'warn' | 'error'; message: string; detail: unknown }[];
  close(): Promise<void>;
}

export function recordingLogger(logs: Served['logs']): Logger {
  return {
    warn: (message, detail) => logs.push({ level: 'warn', message, detail }),
    error: (message, detail) => logs.push({ level: 'error', message, detail }),
  };
}

export async function serve(server: GrpcServer, logs: Served['logs'] = [], maxRequestBodyBytes = Infinity): Promise<Served> {
  const queue = await createRequestQueue({
    urls: ['http://127.0.0.1:0/'],
    backend: 'node',
    logger: recordingLogger(logs),
    limits: { maxRequestBodyBytes },
  });
  server.listen(queue);
  const port = Number(/:(\d+)\//.exec(queue.urls[0]!)![1]);
  return {
    queue,
    port,
    address: `127.0.0.1:${port}`,
    logs,
    close: async () => {
      await server.close({ graceful: 0 });
      await queue.close();
    },
  };
}
