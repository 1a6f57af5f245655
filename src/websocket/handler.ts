/** A queue handler that owns WebSocket requests (optionally on given paths) and passes everything else on. */
import type { WebSocket } from 'ws';
import type { Handler, HandlerResult, ServerRequest } from '../transport/types.js';
import { acceptWebSocket } from './accept.js';
import { looksLikeWebSocketRequest } from './handshake.js';
import { checkOptions, type WebSocketHandlerOptions } from './options.js';
import { rejectionResponse } from './reject.js';

/**
 * Serve WebSockets from a queue: `queue.serve(webSocketHandler((ws) => ws.on('message', ...), { path: '/chat' }))`.
 * Requests on other paths, and requests that do not ask for a WebSocket, return
 * `undefined` so the queue's other handlers get them.
 */
export function webSocketHandler(
  onConnection: (ws: WebSocket, request: ServerRequest) => void,
  options: WebSocketHandlerOptions = {},
): Handler {
  if (typeof onConnection !== 'function') throw new TypeError('webSocketHandler needs a connection callback');
  checkOptions(options);
  if (options.verifyClient !== undefined && typeof options.verifyClient !== 'function') {
    throw new TypeError('verifyClient must be a function');
  }
  const pathList = options.path === undefined ? [] : typeof options.path === 'string' ? [options.path] : options.path;
  for (const p of pathList) {
    if (typeof p !== 'string' || !p.startsWith('/')) throw new TypeError(`a WebSocket path must start with "/" (got ${JSON.stringify(p)})`);
  }
  const paths = options.path === undefined ? undefined : new Set(pathList);
  const acceptOptions = { ...options, onConnection };

  return (request: ServerRequest): HandlerResult | Promise<HandlerResult> => {
    if (paths !== undefined && !paths.has(request.path)) return undefined;
    if (!looksLikeWebSocketRequest(request)) return undefined;
    const verify = options.verifyClient;
    if (verify === undefined) return acceptWebSocket(request, acceptOptions);
    return (async (): Promise<HandlerResult> => {
      // Refuse malformed handshakes before asking the application.
      const answer = acceptWebSocket(request, acceptOptions);
      if (answer.status !== 101) return answer;
      const verdict = await verify(request);
      if (verdict === true) return answer;
      if (typeof verdict === 'object' && verdict !== null) return verdict;
      return rejectionResponse({ status: 401, reason: 'the server refused this WebSocket client' });
    })();
  };
}
