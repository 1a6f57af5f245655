/**
 * Prepares response headers for Http.sys: validates them, folds repeated known
 * headers (a known header has one slot), drops connection-specific fields on
 * HTTP/2 and decides how the body is framed.
 */
import type { RawHeaders } from '../types.js';

/** Response headers Http.sys stores in HTTP_RESPONSE_HEADERS.KnownHeaders (HTTP_HEADER_ID 0..29). */
export const KNOWN_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  'cache-control',
  'connection',
  'date',
  'keep-alive',
  'pragma',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'via',
  'warning',
  'allow',
  'content-length',
  'content-type',
  'content-encoding',
  'content-language',
  'content-location',
  'content-md5',
  'content-range',
  'expires',
  'last-modified',
  'accept-ranges',
  'age',
  'etag',
  'location',
  'proxy-authenticate',
  'retry-after',
  'server',
  'set-cookie',
  'vary',
  'www-authenticate',
]);

/** Known headers whose repeated values cannot be joined into one line. */
const NEVER_JOINED: ReadonlySet<string> = new Set(['set-cookie', 'www-authenticate', 'proxy-authenticate']);

/** Fields that only mean something on an HTTP/1.x connection (RFC 9113 section 8.2.2). */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
// Visible ASCII, space, tab and obs-text; no CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Throws TypeError for a header name or value Http.sys would refuse or that would split the response. */
export function validateHeader(name: string, value: string): void {
  if (!TOKEN.test(name)) throw new TypeError(`invalid response header name ${JSON.stringify(name)}`);
  if (!FIELD_VALUE.test(value)) {
    throw new TypeError(`invalid characters in the value of response header "${name}"`);
  }
}

export interface ResponseContext {
  readonly method: string;
  readonly httpVersion: string;
  readonly http2: boolean;
  readonly status: number;
  /**
   * 'stream': the body goes out in pieces (HTTP/1.1 without a length is chunk-framed here);
   * 'whole': the body goes out in one send of `length` bytes.
   */
  readonly mode: 'stream' | 'whole';
  /** Body length in 'whole' mode. */
  readonly length?: number;
}

export interface PreparedHeaders {
  /** Flat name/value list for the addon, names lower-cased. */
  readonly flat: string[];
  /** False for HEAD, 1xx, 204 and 304: body bytes are dropped. */
  readonly bodyAllowed: boolean;
  /** The body must be chunk-framed by the sender (HTTP/1.1 stream without Content-Length). */
  readonly chunked: boolean;
  /** The connection must close after the response (HTTP/1.0 stream without Content-Length). */
  readonly closeAfter: boolean;
}

function statusAllowsBody(status: number): boolean {
  return !(status < 200 || status === 204 || status === 304);
}

/** Builds the flat header list and the framing decision for one response. */
export function prepareResponseHeaders(headers: RawHeaders, ctx: ResponseContext): PreparedHeaders {
  const bodyAllowed = ctx.method !== 'HEAD' && statusAllowsBody(ctx.status);
  const joined = new Map<string, string>();
  const order: [string, string][] = [];
  let hasLength = false;
  for (const [rawName, rawValue] of headers) {
    const name = rawName.toLowerCase();
    if (name.startsWith(':')) continue;
    const value = String(rawValue);
    validateHeader(name, value);
    if (ctx.http2 && CONNECTION_SPECIFIC.has(name)) continue;
    if (name === 'content-length') {
      if (!statusAllowsBody(ctx.status) && ctx.status !== 304) continue;
      hasLength = true;
    }
    if (name === 'transfer-encoding') {
      // Framing is decided here; a handler's own transfer-encoding is not passed through.
      continue;
    }
    if (KNOWN_RESPONSE_HEADERS.has(name) && !NEVER_JOINED.has(name)) {
      const prev = joined.get(name);
      if (prev !== undefined) {
        joined.set(name, `${prev}, ${value}`);
        continue;
      }
      joined.set(name, value);
      order.push([name, '']);
    } else {
      order.push([name, value]);
    }
  }
  const flat: string[] = [];
  for (const [name, value] of order) {
    flat.push(name, joined.has(name) && !NEVER_JOINED.has(name) ? joined.get(name)! : value);
  }

  let chunked = false;
  let closeAfter = false;
  if (bodyAllowed) {
    if (ctx.mode === 'whole') {
      if (!hasLength) flat.push('content-length', String(ctx.length ?? 0));
    } else if (!hasLength && !ctx.http2) {
      // Http.sys frames nothing itself: a body sent with MORE_DATA and no length goes out as written.
      // HTTP/1.1 gets chunk framing; an HTTP/1.0 client cannot read chunks (RFC 9112 section 7), even
      // when the handler asked for them, so its body ends when the connection closes.
      if (ctx.httpVersion === '1.1') {
        chunked = true;
        flat.push('transfer-encoding', 'chunked');
      } else {
        closeAfter = true;
        for (let i = flat.length - 2; i >= 0; i -= 2) if (flat[i] === 'connection') flat.splice(i, 2);
        flat.push('connection', 'close');
      }
    }
  }
  return { flat, bodyAllowed, chunked, closeAfter };
}

/** Flat name/value list for trailers (validated, lower-cased, pseudo-headers dropped). */
export function flattenTrailers(trailers: RawHeaders): string[] {
  const flat: string[] = [];
  for (const [rawName, rawValue] of trailers) {
    const name = rawName.toLowerCase();
    if (name.startsWith(':') || CONNECTION_SPECIFIC.has(name)) continue;
    const value = String(rawValue);
    validateHeader(name, value);
    flat.push(name, value);
  }
  return flat;
}

const CRLF = new Uint8Array([13, 10]);
const LAST_CHUNK = new Uint8Array([0x30, 13, 10, 13, 10]);

/** The pieces of one HTTP/1.1 chunk: size line, data, CRLF. */
export function chunkFrame(data: Uint8Array): Uint8Array[] {
  return [new TextEncoder().encode(`${data.byteLength.toString(16)}\r\n`), data, CRLF];
}

/** "0\r\n\r\n": the end of a chunked body. */
export function lastChunk(): Uint8Array {
  return LAST_CHUNK;
}
