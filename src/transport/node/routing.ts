/** What the per-protocol request code needs from the listener that accepted the connection. */
import type { RouteTarget } from '../prefix.js';
import type { BackendExchange, Logger } from '../types.js';

export interface Route {
  /** The prefix as the queue reports it (bound port filled in). */
  readonly prefixUrl: string;
  deliver(exchange: BackendExchange): void;
}

export interface ListenerContext {
  readonly scheme: 'http' | 'https';
  readonly port: number;
  readonly maxHeaderBytes: number;
  readonly logger: Logger;
  route(target: RouteTarget): Route | undefined;
}

/** A plain-text answer written by the listener itself (unmatched URL, bad request). */
export function listenerAnswer(status: number, text: string): { status: number; headers: [string, string][]; body: Buffer } {
  const body = Buffer.from(`${text}\n`);
  return {
    status,
    headers: [
      ['content-type', 'text/plain; charset=utf-8'],
      ['content-length', String(body.length)],
    ],
    body,
  };
}
