/** Turns the addon's flat header list into the contract's header record and raw pairs. */
import type { IncomingHeaders, RawHeaders } from '../types.js';

export interface MappedHeaders {
  readonly headers: IncomingHeaders;
  readonly rawHeaders: RawHeaders;
  /** Bytes the header block takes on the wire (name + ": " + value + CRLF per line). */
  readonly size: number;
}

/**
 * Maps `[name0, value0, name1, value1, ...]` to a record (repeated fields joined
 * with ", ", cookie with "; ") and ordered pairs. Names are lower-cased; an odd
 * trailing entry is ignored.
 */
export function mapRequestHeaders(flat: readonly string[]): MappedHeaders {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  const raw: (readonly [string, string])[] = [];
  let size = 0;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    const value = flat[i + 1]!;
    raw.push([name, value]);
    size += name.length + value.length + 4;
    const prev = headers[name];
    if (prev === undefined) headers[name] = value;
    else headers[name] = prev + (name === 'cookie' ? '; ' : ', ') + value;
  }
  return { headers, rawHeaders: raw, size };
}

export interface SplitUrl {
  /** Path and query as sent (origin form). */
  readonly url: string;
  readonly path: string;
  readonly query: string;
}

/**
 * Splits a raw request target into path and query. An absolute-form target
 * ("http://host/p?q") is reduced to its origin form; "*" stays "*".
 */
export function splitRawUrl(rawUrl: string): SplitUrl {
  let target = rawUrl;
  if (!target.startsWith('/') && target !== '*') {
    const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(target);
    if (m) target = target.slice(m[0].length);
    if (!target.startsWith('/')) target = '/' + target;
  }
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  const q = target.indexOf('?');
  if (q < 0) return { url: target, path: target, query: '' };
  return { url: target, path: target.slice(0, q), query: target.slice(q + 1) };
}

/** The host a request addressed, without port: from the cooked URL host, else the Host header. */
export function requestHost(cookedHost: string, headers: IncomingHeaders): string {
  const fromHeader = headers['host'] ?? headers[':authority'] ?? '';
  const h = cookedHost || fromHeader;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(0, end + 1) : h;
  }
  const colon = h.indexOf(':');
  return colon >= 0 ? h.slice(0, colon) : h;
}

/** True when the request announces a body (a length above zero or any transfer coding). */
export function announcesBody(headers: IncomingHeaders): boolean {
  const te = headers['transfer-encoding'];
  if (te !== undefined && te.trim() !== '') return true;
  const cl = headers['content-length'];
  return cl !== undefined && cl.trim() !== '' && cl.trim() !== '0';
}

/** The declared Content-Length, or undefined when absent or not a plain number. */
export function declaredLength(headers: IncomingHeaders): number | undefined {
  const cl = headers['content-length'];
  if (cl === undefined || !/^\s*\d+\s*$/.test(cl)) return undefined;
  return Number(cl);
}
