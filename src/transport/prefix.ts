/**
 * Http.sys URL prefixes: parsing, validation and request routing.
 *
 * Syntax: `scheme://host:port/path/` where scheme is http or https, host is
 * `+` (strong wildcard), `*` (weak wildcard), a host name, an IPv4 address or
 * a bracketed IPv6 address, the port is explicit, and the path ends with "/".
 *
 * Routing (as Http.sys does it): among the prefixes registered for the port
 * and scheme a request arrived on, strong wildcards are tried first, then
 * prefixes naming the host the client addressed, then weak wildcards. Within
 * a class the longest matching path wins. Paths compare case-insensitively.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { UrlPrefixError } from './errors.js';

export type PrefixHostKind = 'strong' | 'weak' | 'name' | 'ipv4' | 'ipv6';

export interface UrlPrefix {
  /** The prefix exactly as given. */
  readonly url: string;
  readonly scheme: 'http' | 'https';
  readonly hostKind: PrefixHostKind;
  /** "+", "*", a lower-case host name, or an IP address (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /** Starts and ends with "/", as given (case kept). */
  readonly path: string;
}

export interface ParsePrefixOptions {
  /**
   * Accept port 0, meaning "pick a free port when listening". Only the
   * portable backend can do this; Http.sys needs a real port.
   */
  readonly allowPortZero?: boolean;
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/;
// Characters a prefix path may hold: RFC 3986 pchar plus "/" (percent-escapes checked separately).
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;

/** Parse and validate one prefix. Throws UrlPrefixError with the precise reason. */
export function parseUrlPrefix(url: string, options: ParsePrefixOptions = {}): UrlPrefix {
  const fail = (reason: string): never => {
    throw new UrlPrefixError(url, reason);
  };
  if (typeof url !== 'string') fail('a prefix must be a string');
  if (url.length === 0) fail('the prefix is empty');
  if (/[\s\u0000-\u001f\u007f]/.test(url)) fail('it contains whitespace or control characters');
  const schemeEnd = url.indexOf('://');
  if (schemeEnd < 0) fail('it must start with "http://" or "https://"');
  const schemeText = url.slice(0, schemeEnd).toLowerCase();
  if (schemeText !== 'http' && schemeText !== 'https') fail(`the scheme "${url.slice(0, schemeEnd)}" is not http or https`);
  const scheme: 'http' | 'https' = schemeText === 'https' ? 'https' : 'http';
  const rest = url.slice(schemeEnd + 3);
  const slash = rest.indexOf('/');
  if (slash < 0) fail('it must end with "/" (e.g. "http://+:8080/")');
  const authority = rest.slice(0, slash);
  const path = rest.slice(slash);
  if (authority.includes('@')) fail('user information is not allowed in a prefix');

  let hostPart: string;
  let portPart: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) fail('the IPv6 address has no closing "]"');
    hostPart = authority.slice(0, close + 1);
    const after = authority.slice(close + 1);
    if (!after.startsWith(':')) fail('the port is missing (write it explicitly, e.g. "[::1]:8080")');
    portPart = after.slice(1);
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon < 0) fail('the port is missing (write it explicitly, e.g. "http://+:80/")');
    hostPart = authority.slice(0, colon);
    portPart = authority.slice(colon + 1);
  }
  if (hostPart.length === 0) fail('the host is empty (use "+", "*", a name or an address)');
  if (!/^[0-9]{1,5}$/.test(portPart)) fail(`the port "${portPart}" is not a number from 1 to 65535`);
  const port = Number(portPart);
  if (port > 65535) fail(`the port ${port} is larger than 65535`);
  if (port === 0 && !options.allowPortZero) {
    fail('port 0 is accepted only by the portable backend (it picks a free port)');
  }

  let hostKind: PrefixHostKind;
  let host: string;
  if (hostPart === '+') {
    hostKind = 'strong';
    host = '+';
  } else if (hostPart === '*') {
    hostKind = 'weak';
    host = '*';
  } else if (hostPart.startsWith('[')) {
    const inner = hostPart.slice(1, -1);
    if (!isIPv6(inner)) fail(`"${inner}" is not an IPv6 address`);
    hostKind = 'ipv6';
    host = inner.toLowerCase();
  } else if (isIPv4(hostPart)) {
    hostKind = 'ipv4';
    host = hostPart;
  } else {
    const lower = hostPart.toLowerCase();
    if (/^[0-9.]+$/.test(lower)) fail(`"${hostPart}" is not a valid IPv4 address`);
    if (lower.includes(':')) fail('an IPv6 address must be written in brackets, e.g. "http://[::1]:8080/"');
    if (!HOST_NAME.test(lower)) fail(`"${hostPart}" is not a valid host name`);
    hostKind = 'name';
    host = lower.endsWith('.') ? lower.slice(0, -1) : lower;
  }

  if (path.includes('?')) fail('a prefix cannot contain a query ("?")');
  if (path.includes('#')) fail('a prefix cannot contain a fragment ("#")');
  if (path.includes('\\')) fail('a prefix path cannot contain "\\"');
  if (!PATH_CHARS.test(path)) fail('the path contains characters that must be percent-encoded');
  if (/%(?![0-9A-Fa-f]{2})/.test(path)) fail('the path has a "%" that does not start a percent-escape');
  if (!path.endsWith('/')) fail('it must end with "/" (Http.sys refuses prefixes without the trailing slash)');
  if (path.includes('//')) fail('the path contains an empty segment ("//")');
  if (path.split('/').some((s) => s === '.' || s === '..')) fail('the path contains a "." or ".." segment');
  return { url, scheme, hostKind, host, port, path };
}

/** Write a prefix back in Http.sys syntax (e.g. after a port 0 was replaced by the bound port). */
export function formatUrlPrefix(p: Pick<UrlPrefix, 'scheme' | 'hostKind' | 'host' | 'port' | 'path'>): string {
  const host = p.hostKind === 'ipv6' ? `[${p.host}]` : p.host;
  return `${p.scheme}://${host}:${p.port}${p.path}`;
}

/** Two prefixes that Http.sys would treat as the same registration. */
export function samePrefix(a: UrlPrefix, b: UrlPrefix): boolean {
  return (
    a.scheme === b.scheme &&
    a.hostKind === b.hostKind &&
    a.host === b.host &&
    a.port === b.port &&
    a.path.toLowerCase() === b.path.toLowerCase()
  );
}

/** What routing needs to know about one arriving request. */
export interface RouteTarget {
  readonly scheme: 'http' | 'https';
  /** Port the connection arrived on. */
  readonly port: number;
  /** Host the client addressed (Host header or :authority without port), any case; IPv6 without brackets. */
  readonly host: string;
  /** Local address of the connection (matched by IP-bound prefixes). */
  readonly localAddress?: string;
  /** Request path, percent-encoded as sent, without the query. */
  readonly path: string;
}

/** Does `path` fall under `prefixPath`? A request for "/api" also matches "/api/", as on Http.sys. */
export function pathUnderPrefix(path: string, prefixPath: string): boolean {
  const p = path.toLowerCase();
  const pre = prefixPath.toLowerCase();
  return p.startsWith(pre) || p + '/' === pre;
}

function normaliseAddress(address: string): string {
  const a = address.toLowerCase();
  return a.startsWith('::ffff:') && isIPv4(a.slice(7)) ? a.slice(7) : a;
}

function hostMatches(prefix: UrlPrefix, target: RouteTarget): boolean {
  const host = target.host.toLowerCase().replace(/\.$/, '');
  if (prefix.hostKind === 'name') return prefix.host === host;
  // IP-bound prefixes match requests addressed to that IP, or arriving on it.
  const wanted = normaliseAddress(prefix.host);
  if (normaliseAddress(host) === wanted) return true;
  return target.localAddress !== undefined && normaliseAddress(target.localAddress) === wanted;
}


/**
 * Pick the prefix that serves a request, or undefined (Http.sys answers 404).
 * Generic so callers can route over their own records that carry a prefix.
 */
export function matchUrlPrefix<T extends { readonly prefix: UrlPrefix }>(
  entries: Iterable<T>,
  target: RouteTarget,
): T | undefined {
  // One pass, no allocations beyond lower-casing: the best prefix of each class, longest path first.
  const path = target.path.toLowerCase();
  let strong: T | undefined;
  let named: T | undefined;
  let weak: T | undefined;
  for (const e of entries) {
    const p = e.prefix;
    if (p.scheme !== target.scheme || p.port !== target.port) continue;
    const pre = p.path.toLowerCase();
    if (!path.startsWith(pre) && !(pre.length === path.length + 1 && pre.endsWith('/') && pre.startsWith(path))) continue;
    if (p.hostKind === 'strong') {
      if (strong === undefined || p.path.length > strong.prefix.path.length) strong = e;
    } else if (p.hostKind === 'weak') {
      if (weak === undefined || p.path.length > weak.prefix.path.length) weak = e;
    } else if (hostMatches(p, target)) {
      if (named === undefined || p.path.length > named.prefix.path.length) named = e;
    }
  }
  return strong ?? named ?? weak;
}
