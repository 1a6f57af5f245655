/**
 * Checks on decoded HTTP/2 field lists (RFC 9113 section 8.2 and 8.3): a
 * request whose fields break these rules is malformed and its stream is reset
 * with PROTOCOL_ERROR, while the connection keeps serving.
 */
import { CONNECTION_SPECIFIC } from '../headers.js';

/** tchar (RFC 9110 section 5.6.2) minus upper-case letters, which HTTP/2 forbids in field names. */
const NAME_CHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_CHAR[c.charCodeAt(0)] = 1;

function validName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || NAME_CHAR[c] === 0) return false;
  }
  return true;
}

/** No NUL, CR or LF anywhere, and no whitespace at either end. */
function validValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  let c = value.charCodeAt(0);
  if (c === 0x20 || c === 0x09) return false;
  c = value.charCodeAt(n - 1);
  if (c === 0x20 || c === 0x09) return false;
  for (let i = 0; i < n; i++) {
    c = value.charCodeAt(i);
    if (c === 0x0a || c === 0x0d || c === 0x00) return false;
  }
  return true;
}

/** The request's pseudo-header fields and the declared body length, as a validated request head gives them. */
export interface RequestHead {
  method: string;
  scheme: string;
  path: string;
  authority: string | undefined;
  /** content-length, or -1 when absent. */
  contentLength: number;
}

/**
 * Validate a request's field list (flat name/value pairs). Fills `head` and
 * returns undefined when the request is well formed, else a short reason.
 */
export function checkRequestFields(flat: readonly string[], head: RequestHead): string | undefined {
  let method: string | undefined;
  let scheme: string | undefined;
  let path: string | undefined;
  let authority: string | undefined;
  let regular = false;
  let contentLength = -1;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!;
    const value = flat[i + 1]!;
    if (!validValue(value)) return `the value of ${JSON.stringify(name)} has a forbidden character`;
    if (name.charCodeAt(0) === 58 /* ':' */) {
      if (regular) return `the pseudo-header ${name} follows a regular field`;
      switch (name) {
        case ':method':
          if (method !== undefined) return 'repeated :method';
          method = value;
          break;
        case ':scheme':
          if (scheme !== undefined) return 'repeated :scheme';
          scheme = value;
          break;
        case ':path':
          if (path !== undefined) return 'repeated :path';
          path = value;
          break;
        case ':authority':
          if (authority !== undefined) return 'repeated :authority';
          authority = value;
          break;
        default:
          return `unknown pseudo-header ${name}`;
      }
      continue;
    }
    regular = true;
    if (!validName(name)) return `invalid field name ${JSON.stringify(name)}`;
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name}`;
    if (name === 'te' && value !== 'trailers') return 'te other than "trailers"';
    if (name === 'content-length') {
      if (!/^\d{1,15}$/.test(value)) return 'invalid content-length';
      const n = Number(value);
      if (contentLength !== -1 && contentLength !== n) return 'conflicting content-length values';
      contentLength = n;
    }
  }
  if (method === undefined || method.length === 0 || !validName(method.toLowerCase())) return 'missing or invalid :method';
  if (method === 'CONNECT') {
    // Plain CONNECT names only the target (RFC 9113 section 8.5).
    if (scheme !== undefined || path !== undefined || authority === undefined) return 'a CONNECT request carries :authority only';
    head.method = method;
    head.scheme = '';
    head.path = '';
    head.authority = authority;
    head.contentLength = contentLength;
    return undefined;
  }
  if (scheme === undefined || scheme.length === 0) return 'missing :scheme';
  if (path === undefined || path.length === 0) return 'missing or empty :path';
  if (path.charCodeAt(0) !== 47 /* '/' */ && !(path === '*' && method === 'OPTIONS')) return `invalid :path ${JSON.stringify(path)}`;
  head.method = method;
  head.scheme = scheme;
  head.path = path;
  head.authority = authority;
  head.contentLength = contentLength;
  return undefined;
}

/** Trailers carry no pseudo-headers and follow the same field rules. */
export function checkTrailerFields(flat: readonly string[]): string | undefined {
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!;
    if (name.charCodeAt(0) === 58) return `pseudo-header ${name} in trailers`;
    if (!validName(name)) return `invalid field name ${JSON.stringify(name)}`;
    if (!validValue(flat[i + 1]!)) return `the value of ${JSON.stringify(name)} has a forbidden character`;
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name}`;
  }
  return undefined;
}
