/**
 * WebSockets on a request queue. The handshake is checked and negotiated here,
 * the transport sends the 101 (with the opaque flag on Http.sys, on the raw
 * socket on the portable backend), and `ws` runs the connection.
 *
 *   queue.serve(webSocketHandler((ws) => ws.on('message', (m) => ws.send(m)), { path: '/echo' }));
 *
 *   queue.serve((request) =>
 *     request.path === '/chat' ? acceptWebSocket(request, { protocols: ['chat.v1'], onConnection: join }) : undefined);
 *
 * Refused handshakes get 400 (malformed), 426 (unsupported version), 501 (the
 * transport cannot upgrade this exchange) or 505 (HTTP/2), with the reason as
 * plain text.
 */
export { acceptWebSocket } from './accept.js';
export { webSocketHandler } from './handler.js';
export { acceptValue as webSocketAcceptValue } from './handshake.js';
export type {
  AcceptWebSocketOptions,
  ConnectionListener,
  VerifyClient,
  WebSocketHandlerOptions,
  WebSocketOptions,
} from './options.js';
export type { WebSocket, RawData as WebSocketData, PerMessageDeflateOptions } from 'ws';
