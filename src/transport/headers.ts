/** Header helpers shared by both backends: normalisation and validation of outgoing fields. */
import type { IncomingHeaders, OutgoingHeaders, RawHeaders } from './types.js';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
// Field values: visible ASCII, obs-text, space and tab; no CR, LF or NUL.
const FIELD_VALUE = /^[\t\u0020-\u007e\u0080-\u00ff]*$/;

/**
 * Turn a record or ordered pairs into ordered lower-case pairs, checking every
 * name and value. Throws TypeError naming the bad field.
 */
export function normaliseOutgoingHeaders(headers: OutgoingHeaders | undefined): [string, string][] {
  const out: [string, string][] = [];
  if (headers === undefined || headers === null) return out;
  if (Array.isArray(headers)) {
    for (const pair of headers as RawHeaders) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError('header pairs must be [name, value]');
      pushField(out, pair[0], pair[1]);
    }
    return out;
  }
  const record = headers as Readonly<Record<string, string | number | readonly string[]>>;
  for (const name in record) {
    if (!Object.prototype.hasOwnProperty.call(record, name)) continue;
    const value = record[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value as readonly string[]) pushField(out, name, v);
    else pushField(out, name, value);
  }
  return out;
}

function pushField(out: [string, string][], name: string, value: unknown): void {
  const lower = String(name).toLowerCase();
  if (!TOKEN.test(lower)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new TypeError(`header ${lower} has a value that is not a string or number`);
  }
  const v = String(value).trim();
  if (!FIELD_VALUE.test(v)) throw new TypeError(`header ${lower} has a value with forbidden characters`);
  out.push([lower, v]);
}

const frozenCache = new WeakMap<object, readonly (readonly [string, string])[]>();

/**
 * normaliseOutgoingHeaders for header sets reused across responses: a frozen
 * record or pair list is checked once and its pairs reused (the result must not
 * be changed). Anything else is normalised afresh.
 */
export function normaliseFrozenHeaders(headers: OutgoingHeaders | undefined): readonly (readonly [string, string])[] {
  if (headers === undefined || headers === null || !Object.isFrozen(headers)) return normaliseOutgoingHeaders(headers);
  let pairs = frozenCache.get(headers);
  if (pairs === undefined) {
    pairs = Object.freeze(normaliseOutgoingHeaders(headers).map((p) => Object.freeze(p)));
    frozenCache.set(headers, pairs);
  }
  return pairs;
}

/** Join repeated request fields the way the contract describes: ", " in general, "; " for cookie. */
export function joinIncomingHeaders(raw: RawHeaders): IncomingHeaders {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of raw) {
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else out[name] = prev + (name === 'cookie' ? '; ' : ', ') + value;
  }
  return out;
}

/** Fields that describe one HTTP/1.x connection and must not appear on HTTP/2 (RFC 9113 section 8.2.2). */
export const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** Find the first value of a field in ordered pairs. */
export function headerValue(headers: RawHeaders, name: string): string | undefined {
  for (const [n, v] of headers) if (n === name) return v;
  return undefined;
}
