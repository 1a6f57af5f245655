/** Real clients for the conformance cases: node:http, node:http2 and raw TCP, with small helpers. */
import http, { type ClientRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders, type RequestOptions } from 'node:http';
import http2, { type ClientHttp2Session } from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

let overTls = false;

/**
 * Make every client of this module speak TLS (https, h2 by ALPN, raw TLS sockets),
 * for targets serving https:// prefixes. Certificates are not verified: the
 * servers are local and use throw-away certificates.
 */
export function useTls(on: boolean): void {
  overTls = on;
}

export function usingTls(): boolean {
  return overTls;
}

/** node:http or node:https request, whichever the target speaks. */
export function request(options: RequestOptions): ClientRequest {
  return overTls ? https.request({ ...options, rejectUnauthorized: false }) : http.request(options);
}

/** Resolves on 'drain' or 'close', whichever comes first, and removes both listeners. */
function drained(w: NodeJS.EventEmitter): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}

export interface H1Result {
  readonly status: number;
  readonly statusMessage: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  readonly trailers: Readonly<Record<string, string | undefined>>;
  readonly rawTrailers: readonly string[];
}

export interface H1Options {
  readonly port: number;
  readonly host?: string;
  readonly method?: string;
  readonly path: string;
  /** A record, or a flat [name, value, ...] list to send repeated fields and exact case. */
  readonly headers?: OutgoingHttpHeaders | readonly string[];
  readonly body?: Uint8Array | string | AsyncIterable<Uint8Array>;
  /** Keep going after a write error (the server may answer and close before the whole body is sent). */
  readonly tolerateWriteErrors?: boolean;
}

/** One HTTP/1.1 exchange on a fresh connection. */
export function h1(options: H1Options): Promise<H1Result> {
  return new Promise<H1Result>((resolve, reject) => {
    const req = request({
      host: options.host ?? '127.0.0.1',
      port: options.port,
      method: options.method ?? 'GET',
      path: options.path,
      agent: false,
      headers: (options.headers ?? {}) as OutgoingHttpHeaders,
    });
    let answered = false;
    req.on('error', (err) => {
      if (answered && options.tolerateWriteErrors) return;
      reject(err);
    });
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          statusMessage: res.statusMessage ?? '',
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks),
          trailers: res.trailers,
          rawTrailers: res.rawTrailers,
        }),
      );
    });
    const body = options.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || body instanceof Uint8Array) req.end(body);
    else {
      void (async () => {
        try {
          for await (const chunk of body) {
            if (req.destroyed) return;
            if (!req.write(chunk)) await drained(req);
          }
          req.end();
        } catch (err) {
          req.destroy(err as Error);
        }
      })();
    }
  });
}

export async function h1Json<T>(port: number, path: string, init: Omit<H1Options, 'port' | 'path'> = {}): Promise<T> {
  const r = await h1({ ...init, port, path });
  if (r.status !== 200) throw new Error(`GET ${path} answered ${r.status}: ${r.body.toString().slice(0, 200)}`);
  return JSON.parse(r.body.toString('utf8')) as T;
}

export interface H2Result {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly trailers: http2.IncomingHttpHeaders | undefined;
  /** RST_STREAM code the stream closed with (0 when it ended normally). */
  readonly rstCode: number;
  /** The stream ended with END_STREAM from the server (not a reset). */
  readonly ended: boolean;
}

export function h2Connect(port: number, host = '127.0.0.1'): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = overTls
      ? http2.connect(`https://${host}:${port}`, { rejectUnauthorized: false })
      : http2.connect(`http://${host}:${port}`);
    s.once('connect', () => {
      s.off('error', reject);
      s.on('error', () => undefined);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** One HTTP/2 exchange on an existing session. Never rejects for a reset: it reports the code. */
export function h2(
  session: ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Uint8Array | string | AsyncIterable<Uint8Array>,
): Promise<H2Result> {
  return new Promise<H2Result>((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let status = 0;
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    let ended = false;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      resHeaders = h;
      status = Number(h[':status']);
    });
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => (ended = true));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      resolve({ status, headers: resHeaders, body: Buffer.concat(chunks), trailers, rstCode: stream.rstCode ?? 0, ended });
    });
    if (body !== undefined) {
      if (typeof body === 'string' || body instanceof Uint8Array) stream.end(body);
      else {
        void (async () => {
          try {
            for await (const chunk of body) {
              if (stream.destroyed) return;
              if (!stream.write(chunk)) await drained(stream);
            }
            stream.end();
          } catch (err) {
            reject(err as Error);
            stream.destroy();
          }
        })();
      }
    }
  });
}

/**
 * Send raw bytes on a fresh TCP connection and collect what the server writes
 * until one complete response has arrived (headers plus Content-Length body),
 * the server closes the connection, or `stopWhen` matches. Used for malformed
 * requests, whose answers may or may not close the connection.
 */
export function raw(port: number, bytes: string | Buffer, options: { host?: string; endAfterWrite?: boolean; stopWhen?: RegExp; guardMs?: number } = {}): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const host = options.host ?? '127.0.0.1';
    const socket = overTls
      ? tls.connect({ port, host, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] })
      : net.connect(port, host);
    let text = '';
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      socket.destroy();
      resolve(text);
    };
    // Only turns a server that never answers into a failed assertion instead of a hang.
    const guard = setTimeout(finish, options.guardMs ?? 30_000);
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (options.stopWhen ? options.stopWhen.test(text) : responseComplete(text)) finish();
    });
    socket.on('error', (err) => (text ? finish() : (clearTimeout(guard), reject(err))));
    socket.on('close', finish);
    socket.write(bytes);
    if (options.endAfterWrite) socket.end();
  });
}

function responseComplete(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end + 2));
  if (!m) return false; // without a length the body ends when the connection closes
  return Buffer.byteLength(text.slice(end + 4), 'latin1') >= Number(m[1]);
}

/** The i % 251 byte pattern `<prefix>source` sends, checked without building a copy. */
export function checkPattern(body: Uint8Array, offset = 0): boolean {
  for (let i = 0; i < body.length; i++) if (body[i] !== (offset + i) % 251) return false;
  return true;
}

/** A deterministic request body of `bytes` bytes in chunks (different from the response pattern). */
export async function* generatedBody(bytes: number, chunkSize = 64 * 1024): AsyncGenerator<Uint8Array> {
  const chunk = new Uint8Array(chunkSize);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff;
  let left = bytes;
  while (left > 0) {
    const n = Math.min(left, chunkSize);
    yield n === chunkSize ? chunk : chunk.subarray(0, n);
    left -= n;
  }
}

/** Poll `fn` until it returns a value that passes `ok` (condition waiting, not timing). */
export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, limitMs = 20_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: condition not reached; last value ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
