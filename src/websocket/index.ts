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
