/** What each benchmarked server gives the child-process runner. */
export interface StartedServer {
  /** The loopback port the server listens on (OS-assigned). */
  readonly port: number;
  close(): Promise<void>;
}

export type ServerKind = 'ours' | 'grpc-js' | 'connect' | 'bare';

export const SERVER_KINDS: readonly ServerKind[] = ['ours', 'grpc-js', 'connect', 'bare'];
