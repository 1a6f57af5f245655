import type { PerMessageDeflateOptions, WebSocket } from 'ws';
import type { Logger, ServerRequest, ServerResponse } from '../transport/types.js';

/** How a WebSocket endpoint negotiates and runs its connections. */
export interface WebSocketOptions {
  /**
   * Subprotocols this endpoint speaks. The first one the client offers (in the
   * client's order of preference) is selected; a client that offers only
   * others is refused with 400. A client that offers none is accepted without one.
   */
  readonly protocols?: readonly string[];
  /**
   * Choose the subprotocol from the client's offers yourself (overrides
   * `protocols`). Return one of the offered names, or `false` for none.
   * Called only when the client offered at least one.
   */
  readonly handleProtocols?: (offered: ReadonlySet<string>, request: ServerRequest) => string | false;
  /** Enable permessage-deflate (RFC 7692), with ws's options. Default false. */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Largest message accepted, in bytes (1 to 2^31-1, or Infinity for no limit);
   * bigger ones close the connection with 1009. Default 100 MiB.
   */
  readonly maxPayload?: number;
  /** Milliseconds to wait for the peer's close frame after `close()` before dropping the connection. Default 30000. */
  readonly closeTimeout?: number;
  /** Answer pings automatically. Default true. */
  readonly autoPong?: boolean;
  /** Skip UTF-8 validation of text messages and close reasons. Default false. */
  readonly skipUTF8Validation?: boolean;
  /** Let ws emit several messages in one tick. Default true. */
  readonly allowSynchronousEvents?: boolean;
  /** Where errors thrown by `onConnection` are reported. Default: console. */
  readonly logger?: Pick<Logger, 'error'>;
}

export type ConnectionListener = (ws: WebSocket, request: ServerRequest) => void;

export interface AcceptWebSocketOptions extends WebSocketOptions {
  /** Called with the open WebSocket once the 101 has gone out. */
  readonly onConnection?: ConnectionListener;
}

/**
 * Decide whether to accept a handshake that is otherwise valid. Return true to
 * accept, false to refuse with 401, or a response to send instead.
 */
export type VerifyClient = (request: ServerRequest) => boolean | ServerResponse | Promise<boolean | ServerResponse>;

export interface WebSocketHandlerOptions extends WebSocketOptions {
  /**
   * Request path(s) (percent-encoded, without the query) this handler owns.
   * Without it, every request that asks for a WebSocket is taken.
   */
  readonly path?: string | readonly string[];
  readonly verifyClient?: VerifyClient;
}

export const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;
export const DEFAULT_CLOSE_TIMEOUT = 30_000;

/** ws keeps payload limits in a signed 32-bit integer. */
const MAX_PAYLOAD_LIMIT = 2 ** 31 - 1;

/** Check options once, up front, so a misconfiguration fails where it is made. */
export function checkOptions(options: WebSocketOptions): void {
  const { maxPayload, closeTimeout, protocols, handleProtocols } = options;
  if (maxPayload !== undefined && maxPayload !== Infinity && !(Number.isInteger(maxPayload) && maxPayload >= 1 && maxPayload <= MAX_PAYLOAD_LIMIT)) {
    throw new RangeError(`maxPayload must be an integer from 1 to ${MAX_PAYLOAD_LIMIT}, or Infinity (got ${String(maxPayload)})`);
  }
  if (closeTimeout !== undefined && !(Number.isFinite(closeTimeout) && closeTimeout >= 0)) {
    throw new RangeError(`closeTimeout must be a number of milliseconds >= 0 (got ${String(closeTimeout)})`);
  }
  if (protocols !== undefined && (!Array.isArray(protocols) || protocols.some((p) => typeof p !== 'string' || p === ''))) {
    throw new TypeError('protocols must be an array of non-empty subprotocol names');
  }
  if (handleProtocols !== undefined && typeof handleProtocols !== 'function') {
    throw new TypeError('handleProtocols must be a function');
  }
}

/** The payload limit in ws's terms (0 means none). */
export function payloadLimit(options: WebSocketOptions): number {
  const limit = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  return limit === Infinity ? 0 : limit;
}
