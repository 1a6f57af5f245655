/**
 * RFC 6455 section 4.2.1: checks an opening handshake request and computes the
 * Sec-WebSocket-Accept value. Pure functions over the transport's request.
 */
import { createHash } from 'node:crypto';
import type { ServerRequest } from '../transport/types.js';
import { hasToken } from './header-tokens.js';

/** The GUID every server appends to the client's key (RFC 6455 section 1.3). */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The only protocol version defined by RFC 6455. */
export const SUPPORTED_VERSION = '13';

/** 16 bytes in base64: 22 significant characters and two padding characters. */
const KEY_PATTERN = /^[A-Za-z0-9+/]{22}==$/;

/** Why a handshake was refused, as the HTTP answer to send. */
export interface HandshakeRejection {
  readonly status: number;
  readonly reason: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface ValidHandshake {
  /** The Sec-WebSocket-Key the client sent. */
  readonly key: string;
}

/** The Sec-WebSocket-Accept value for a client key. */
export function acceptValue(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

/** True when the request asks for a WebSocket at all (so a handler can tell "mine" from "someone else's"). */
export function looksLikeWebSocketRequest(request: ServerRequest): boolean {
  const h = request.headers;
  return (
    hasToken(h['upgrade'], 'websocket') ||
    h['sec-websocket-key'] !== undefined ||
    h['sec-websocket-version'] !== undefined
  );
}

function hasBody(request: ServerRequest): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined && length.trim() !== '0') return true;
  return request.headers['transfer-encoding'] !== undefined;
}

/** Check everything RFC 6455 asks of the client's opening handshake. */
export function validateHandshake(request: ServerRequest): ValidHandshake | HandshakeRejection {
  if (request.httpVersion === '2.0') {
    return {
      status: 505,
      reason: 'WebSocket connections need HTTP/1.1; this request came over HTTP/2, which cannot switch protocols with Upgrade',
    };
  }
  if (request.httpVersion !== '1.1') {
    return { status: 400, reason: `a WebSocket handshake needs HTTP/1.1, not HTTP/${request.httpVersion}` };
  }
  if (request.method !== 'GET') {
    return { status: 400, reason: `a WebSocket handshake must use GET, not ${request.method}` };
  }
  const h = request.headers;
  if (!hasToken(h['upgrade'], 'websocket')) {
    return {
      status: 400,
      reason: h['upgrade'] === undefined
        ? 'missing Upgrade: websocket header'
        : `the Upgrade header must name websocket (got "${h['upgrade']}")`,
    };
  }
  if (!hasToken(h['connection'], 'upgrade')) {
    return { status: 400, reason: 'the Connection header must contain "Upgrade"' };
  }
  const version = h['sec-websocket-version'];
  if (version?.trim() !== SUPPORTED_VERSION) {
    return {
      status: 426,
      reason: version === undefined
        ? 'missing Sec-WebSocket-Version header; this server speaks version 13'
        : `unsupported Sec-WebSocket-Version "${version}"; this server speaks version 13`,
      headers: { 'sec-websocket-version': SUPPORTED_VERSION },
    };
  }
  const key = h['sec-websocket-key'];
  if (key === undefined) {
    return { status: 400, reason: 'missing Sec-WebSocket-Key header' };
  }
  const trimmed = key.trim();
  if (!KEY_PATTERN.test(trimmed)) {
    return { status: 400, reason: 'Sec-WebSocket-Key must be 16 bytes in base64 (24 characters ending in "==")' };
  }
  if (hasBody(request)) {
    return { status: 400, reason: 'a WebSocket handshake request must not have a body' };
  }
  if (!request.capabilities.upgrade) {
    return {
      status: 501,
      reason: 'this server cannot switch connections to WebSocket: the transport does not support upgrades for this request',
    };
  }
  return { key: trimmed };
}

export function isRejection<T extends object>(result: T | HandshakeRejection): result is HandshakeRejection {
  return 'status' in result;
}
