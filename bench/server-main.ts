/**
 * Child-process entry: starts one benchmarked server on a loopback port and
 * talks to the parent over IPC, so each server's memory is its own process's.
 *   node dist/bench/server-main.js <ours|grpc-js|connect|bare>
 * Messages: child → parent {type:'ready', port} | {type:'failed', message};
 * parent → child 'gc' (answered with {type:'gc-done', heapUsed, external}),
 * {type:'snapshot', file} (a heap snapshot; answered with {type:'snapshot-done', file}) and 'stop'.
 */
import { writeHeapSnapshot } from 'node:v8';
import type { ServerKind, StartedServer } from './servers/types.js';

type ChildMessage =
  | { type: 'ready'; port: number }
  | { type: 'failed'; message: string }
  | { type: 'gc-done'; heapUsed: number; external: number }
  | { type: 'snapshot-done'; file: string };

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function startServer(kind: ServerKind): Promise<StartedServer> {
  switch (kind) {
    case 'ours':
      return (await import('./servers/ours.js')).start();
    case 'grpc-js':
      return (await import('./servers/grpcjs.js')).start();
    case 'connect':
      return (await import('./servers/connect.js')).start();
    case 'bare':
      return (await import('./servers/bare.js')).start();
    case 'transport':
      return (await import('./servers/transport.js')).start();
  }
}

async function main(): Promise<void> {
  const kind = process.argv[2] as ServerKind;
  let server: StartedServer;
  try {
    server = await startServer(kind);
  } catch (err) {
    send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
  const stop = async (): Promise<void> => {
    await server.close().catch(() => {});
    process.exit(0);
  };
  process.on('message', (message: unknown) => {
    if (message === 'stop') void stop();
    else if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'snapshot') {
      const file = writeHeapSnapshot((message as { file: string }).file);
      send({ type: 'snapshot-done', file });
    }
    else if (message === 'gc') {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      const usage = process.memoryUsage();
      send({ type: 'gc-done', heapUsed: usage.heapUsed, external: usage.external });
    }
  });
  process.on('disconnect', () => void stop());
  send({ type: 'ready', port: server.port });
}

void main();
