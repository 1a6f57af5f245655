/**
 * How the conformance cases reach a server: a target starts servers (in this
 * process, as a Linux child process, or as Windows node.exe under Wine) and
 * reports what they print; the cases talk to them only over the network.
 */
import type { Capabilities, HostFacts } from '../../src/index.js';
import type { ExchangeEvent } from './app.js';

/** What `<prefix>caps` answers. */
export interface CapsAnswer {
  readonly label: string;
  readonly backend: string;
  readonly hostFacts: HostFacts;
  readonly capabilities: Capabilities;
  readonly httpVersion: string;
  readonly platform: string;
  readonly prefix: string;
  readonly limits: { readonly maxRequestBodyBytes?: number; readonly maxHeaderBytes?: number };
  readonly endpoints: readonly string[];
}

/** The `@@report {"type":"ready",...}` line serve.js prints once its queues are open. */
export interface ReadyReport {
  readonly type: 'ready';
  readonly backend: string;
  readonly pid: number;
  /** One queue per --url, in order; `urls` are the prefixes served (port 0 replaced). */
  readonly queues: readonly { readonly label: string; readonly urls: readonly string[] }[];
  readonly urls: readonly string[];
  /** `caps` of the first queue, asked over HTTP/1.1 by the server itself (null if that failed). */
  readonly capabilities: CapsAnswer | null;
}

/** The `@@report {"type":"closed",...}` line serve.js prints after its queues closed. */
export interface ClosedReport {
  readonly type: 'closed';
  readonly events: Readonly<Record<string, ExchangeEvent>>;
  readonly logged: { readonly errors: number; readonly warns: number };
}

export interface StartOptions {
  readonly maxRequestBodyBytes?: number;
  readonly maxHeaderBytes?: number;
  /** limits.timeouts.idleConnection, in seconds. */
  readonly idleTimeoutSeconds?: number;
}

export interface RunningServer {
  readonly ready: ReadyReport;
  /** Ask the server to close its queues (graceful ms, default 0); resolves with its closing report. */
  close(options?: { graceful?: number }): Promise<ClosedReport>;
  /** End the server without asking (cleanup after a failed case). Safe to call more than once. */
  kill(): Promise<void>;
}

export interface ConformanceTarget {
  readonly name: string;
  /**
   * Start a server with one queue per prefix. Port 0 means "a free port"; every
   * port-0 prefix of one start gets the same port, so queues share it.
   */
  start(urls: readonly string[], options?: StartOptions): Promise<RunningServer>;
}

/** Handed to case registrars (including `extraCases` from extensions.ts). */
export interface CaseContext {
  readonly target: ConformanceTarget;
  /** The shared server of the suite (one queue on `http://+:<port>/conf/`). Valid inside tests. */
  server(): RunningServer;
  /** `caps` of the shared server over HTTP/1.1. Valid inside tests. */
  caps(): CapsAnswer;
  /** 'https' when the suite runs over TLS (clients.useTls), else 'http'; use it for the prefixes of servers a case starts. */
  readonly scheme: 'http' | 'https';
  /** `<scheme>://127.0.0.1:<port>/conf/<rest>` on the shared server. */
  url(rest: string): string;
  /** Port of the shared server. */
  port(): number;
}

/** Where to connect for a served prefix and what Host to send. */
export function endpointOf(prefix: string): { port: number; path: string; connectHost: string; hostHeader: string } {
  const m = /^https?:\/\/(\[[^\]]+\]|[^:/]+):(\d+)(\/.*)$/i.exec(prefix);
  if (!m) throw new Error(`not a served prefix: ${prefix}`);
  const host = m[1]!;
  const port = Number(m[2]);
  const path = m[3]!;
  const wildcard = host === '+' || host === '*';
  const connectHost = wildcard || !/^[0-9.]+$|^\[/.test(host) ? '127.0.0.1' : host.replace(/^\[|\]$/g, '');
  const hostHeader = `${wildcard ? '127.0.0.1' : host}:${port}`;
  return { port, path, connectHost, hostHeader };
}
