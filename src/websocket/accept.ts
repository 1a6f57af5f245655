/**
 * Accept a WebSocket on an exchange: validate and negotiate the handshake here,
 * let the transport send the 101 (on Http.sys with the opaque flag), then give
 * the raw stream to ws, which does framing, ping/pong, close codes,
 * fragmentation, UTF-8 checks and compression.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { ServerRequest, ServerResponse, UpgradeResponse } from '../transport/types.js';
import { acceptValue, isRejection, validateHandshake, type HandshakeRejection } from './handshake.js';
import { negotiateExtensions, selectProtocol, type NegotiatedExtensions } from './negotiate.js';
import { checkOptions, DEFAULT_CLOSE_TIMEOUT, payloadLimit, type AcceptWebSocketOptions } from './options.js';
import { rejectionResponse } from './reject.js';
import { prepareSocket } from './socket-shim.js';
import { attachWebSocket } from './ws-internals.js';

/** Close code 1001: the endpoint is going away (RFC 6455 section 7.4.1). */
const GOING_AWAY = 1001;
/** Close code 1011: the server hit an unexpected condition. */
const INTERNAL_ERROR = 1011;

function ignoreError(): void {
  // ws reports protocol errors here and then closes the connection with the
  // matching close code itself; the listener keeps an unhandled 'error' event
  // from taking the process down.
}

/**
 * Answer a WebSocket opening handshake. Returns the upgrade to hand back to the
 * queue, or a 400/426/501/505 response with the reason in the body.
 */
export function acceptWebSocket(
  request: ServerRequest,
  options: AcceptWebSocketOptions = {},
): UpgradeResponse | ServerResponse {
  checkOptions(options);
  const valid = validateHandshake(request);
  if (isRejection(valid)) return rejectionResponse(valid);

  const selected = selectProtocol(request, options);
  if (isRejection(selected)) return rejectionResponse(selected);

  const maxPayload = payloadLimit(options);
  const negotiated: NegotiatedExtensions | HandshakeRejection = negotiateExtensions(request, options, maxPayload);
  if (isRejection(negotiated)) return rejectionResponse(negotiated);

  const headers: Record<string, string> = {
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-accept': acceptValue(valid.key),
  };
  if (selected.protocol !== '') headers['sec-websocket-protocol'] = selected.protocol;
  if (negotiated.header !== undefined) headers['sec-websocket-extensions'] = negotiated.header;

  const releaseExtensions = (): void => {
    for (const ext of Object.values(negotiated.extensions)) ext.cleanup();
  };

  return {
    status: 101,
    headers,
    upgrade: (socket: Duplex): void => {
      prepareSocket(socket);
      if (socket.destroyed || !socket.readable || !socket.writable || request.signal.aborted) {
        releaseExtensions();
        socket.destroy();
        return;
      }
      const ws = attachWebSocket(socket, {
        protocol: selected.protocol,
        extensions: negotiated.extensions,
        autoPong: options.autoPong ?? true,
        closeTimeout: options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
        attach: {
          allowSynchronousEvents: options.allowSynchronousEvents ?? true,
          maxPayload,
          skipUTF8Validation: options.skipUTF8Validation ?? false,
        },
      });
      ws.on('error', ignoreError);
      closeWhenAborted(ws, request.signal);
      if (options.onConnection) {
        try {
          options.onConnection(ws, request);
        } catch (err) {
          (options.logger ?? console).error(`WebSocket connection handler for ${request.path} threw`, err);
          ws.close(INTERNAL_ERROR, 'internal error');
        }
      }
    },
  };
}

/** When the exchange's signal fires (queue shutdown, client gone), close the WebSocket as "going away". */
function closeWhenAborted(ws: WebSocket, signal: AbortSignal): void {
  const onAbort = (): void => {
    if (ws.readyState === ws.OPEN) ws.close(GOING_AWAY, 'server shutting down');
    else if (ws.readyState === ws.CONNECTING) ws.terminate();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  ws.once('close', () => signal.removeEventListener('abort', onAbort));
}
