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
