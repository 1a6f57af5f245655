/**
 * Linux-side HTTP helpers for Wine-tier tests (node:http, so headers go on the
 * wire exactly as given: repeated ones stay repeated, sizes are unlimited).
 */
import http from 'node:http';

export interface HttpResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  readonly trailers: NodeJS.Dict<string>;
}

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: Uint8Array | string;
  readonly agent?: http.Agent | false;
  readonly signal?: AbortSignal;
  /** Milliseconds without activity before the request fails (default 60 s): a hang becomes an error. */
  readonly timeoutMs?: number;
}

/** One request to 127.0.0.1; resolves with the whole response. Sends Content-Length for a body. */
export function request(port: number, path: string, options: RequestOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
    const headers: http.OutgoingHttpHeaders = { ...options.headers };
    // Spelled this way on purpose: Wine's http.sys matches header names case-sensitively.
    if (body) headers['Content-Length'] = body.byteLength;
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? (body ? 'POST' : 'GET'),
        headers,
        agent: options.agent,
        signal: options.signal,
        maxHeaderSize: 64 * 1024,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
            trailers: res.trailers,
          }),
        );
      },
    );
    req.setTimeout(options.timeoutMs ?? 60_000, () => req.destroy(new Error(`${path}: no response activity for ${options.timeoutMs ?? 60_000} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Like `request`, parsing the body as JSON after checking the status. */
export async function requestJson<T>(port: number, path: string, options: RequestOptions = {}, expectStatus = 200): Promise<T> {
  const r = await request(port, path, options);
  if (r.status !== expectStatus) throw new Error(`${options.method ?? 'GET'} ${path}: status ${r.status}, body ${r.body.toString('utf8').slice(0, 500)}`);
  return JSON.parse(r.body.toString('utf8')) as T;
}

/** What the native-server fixture answers on its echo route. */
export interface Echo {
  readonly fixture: string;
  readonly pid: number;
  readonly id: string;
  readonly connectionId: string;
  readonly urlContext: number;
  readonly method: string;
  readonly rawUrl: string;
  readonly host: string;
  readonly httpVersion: string;
  readonly http2: boolean;
  readonly headers: readonly string[];
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly secure: boolean;
  readonly initialBodyBytes: number;
  readonly moreBody: boolean;
  readonly bodyReads: number;
  readonly bodyBytes: number;
  readonly bodySha256: string;
}

/** All values of a header in the fixture's flat name/value list, in order. */
export function headerValues(flat: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === name) out.push(flat[i + 1]!);
  return out;
}
