/** Pieces of a ServerRequest that HTTP/1.1 and HTTP/2 build the same way. */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { TlsInfo } from '../types.js';

/** Split a request target into path and query (query without "?"). */
export function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  const hash = url.indexOf('#');
  const end = hash >= 0 ? hash : url.length;
  if (q < 0 || q > end) return { path: url.slice(0, end), query: '' };
  return { path: url.slice(0, q), query: url.slice(q + 1, end) };
}

/** Host from a Host header or :authority, without the port; IPv6 without brackets. */
export function hostWithoutPort(authority: string | undefined): string {
  if (!authority) return '';
  const a = authority.trim();
  if (a.startsWith('[')) {
    const close = a.indexOf(']');
    return close > 0 ? a.slice(1, close).toLowerCase() : a.toLowerCase();
  }
  const colon = a.indexOf(':');
  return (colon >= 0 ? a.slice(0, colon) : a).toLowerCase();
}

/** Pair up a flat [name, value, name, value] list with lower-case names. */
export function pairHeaders(flat: readonly string[], skipPseudo: boolean): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    if (skipPseudo && name.startsWith(':')) continue;
    out.push([name, flat[i + 1]!]);
  }
  return out;
}

export function tlsInfo(socket: Socket | TLSSocket): TlsInfo | undefined {
  const tls = socket as TLSSocket;
  if (!tls.encrypted) return undefined;
  const cipher = tls.getCipher?.();
  const info: { protocol?: string; cipher?: string; alpnProtocol?: string; servername?: string } = {};
  const protocol = tls.getProtocol?.();
  if (protocol) info.protocol = protocol;
  if (cipher?.name) info.cipher = cipher.name;
  if (typeof tls.alpnProtocol === 'string') info.alpnProtocol = tls.alpnProtocol;
  const servername = (tls as TLSSocket & { servername?: string | false }).servername;
  if (typeof servername === 'string') info.servername = servername;
  return info;
}

/** Strip the IPv4-mapped IPv6 form ("::ffff:127.0.0.1" -> "127.0.0.1"). */
export function plainAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && /^[0-9.]+$/.test(address.slice(7)) ? address.slice(7) : address;
}
