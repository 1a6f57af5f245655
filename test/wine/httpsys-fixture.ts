/** Starts fixtures/httpsys-server.js (a request queue on the Http.sys backend) under Wine. */
import http from 'node:http';
import type { NativeCapabilities } from '../../src/native/types.js';
import { startWineNode, type WineHost, type WineProcess } from './harness.js';
import type { HttpSysFixtureConfig } from './fixtures/httpsys-server.js';

export interface HttpSysServer {
  readonly proc: WineProcess;
  readonly capabilities: NativeCapabilities;
  readonly urls: readonly string[];
}

export async function startHttpSysServer(host: WineHost, config: HttpSysFixtureConfig): Promise<HttpSysServer> {
  const proc = startWineNode(host, {
    script: 'dist/test/wine/fixtures/httpsys-server.js',
    name: `httpsys-${config.name}`,
    env: { HTTPSYS_FIXTURE: JSON.stringify(config) },
  });
  try {
    const ready = await proc.nextReport<{ capabilities: NativeCapabilities; urls: string[] }>('ready');
    return { proc, capabilities: ready.capabilities, urls: ready.urls };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

/** What the fixture's `info` route answers. */
export interface InfoEcho {
  readonly fixture: string;
  readonly method: string;
  readonly url: string;
  readonly path: string;
  readonly query: string;
  readonly host: string;
  readonly headers: Record<string, string>;
  readonly rawHeaders: [string, string][];
  readonly httpVersion: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly secure: boolean;
  readonly prefix: string;
  readonly capabilities: {
    readonly trailers: boolean;
    readonly reset: boolean;
    readonly upgrade: boolean;
    readonly http2: boolean;
    readonly streaming: boolean;
  };
}

export interface WireResult {
  readonly status: number;
  readonly statusMessage: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * One HTTP/1.1 request with node:http, sending Host and Content-Length in their
 * usual capitalisation (Wine 8's http.sys matches those two names case-sensitively).
 */
export function wire(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string | string[]>; body?: Uint8Array | string; agent?: http.Agent | false; signal?: AbortSignal } = {},
): Promise<WireResult> {
  return new Promise((resolve, reject) => {
    const body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
    const headers: Record<string, string | string[]> = { ...options.headers };
    if (body !== undefined) headers['Content-Length'] = String(body.byteLength);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? (body ? 'POST' : 'GET'),
        headers,
        agent: options.agent ?? false,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function wireJson<T>(port: number, path: string, options: Parameters<typeof wire>[2] = {}): Promise<T> {
  const r = await wire(port, path, options);
  if (r.status !== 200) throw new Error(`${options.method ?? 'GET'} ${path}: status ${r.status}, body ${r.body.toString('utf8').slice(0, 300)}`);
  return JSON.parse(r.body.toString('utf8')) as T;
}
