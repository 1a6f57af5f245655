import type { Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';

/** What each benchmarked server gives the child-process runner. */
export interface StartedServer {
  /** The loopback port the server listens on (OS-assigned). */
  readonly port: number;
  close(): Promise<void>;
}

export type ServerKind = 'ours' | 'grpc-js' | 'connect' | 'bare' | 'transport';

/** The servers compared by default. */
export const SERVER_KINDS: readonly ServerKind[] = ['ours', 'grpc-js', 'connect', 'bare'];

/** Diagnostic servers that can be named with --servers (see servers/transport.ts). */
export const EXTRA_SERVER_KINDS: readonly ServerKind[] = ['transport'];

/** Listen on an OS-assigned loopback port; close() waits for open sessions at most 2 s. */
export async function listenOnLoopback(server: Http2Server): Promise<StartedServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        setTimeout(resolve, 2000).unref();
      }),
  };
}
