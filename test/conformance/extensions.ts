/**
 * Extension points of the conformance suite for other layers (e.g. WebSockets
 * over the upgrade path). Add an endpoint to `extraEndpoints` (server side,
 * installed under every queue's prefix as `<prefix><name>`) and a case
 * registrar to `extraCases` (client side, called inside the target's suite).
 * Both sides must stay portable: the server side also runs in Windows node.exe.
 */
import type { HandlerResult, ServerRequest } from '../../src/index.js';
import type { CaseContext } from './case-context.js';
import { registerWebSocketCases, webSocketEndpoints } from './websocket-cases.js';

export type ExtraEndpoint = (request: ServerRequest, query: URLSearchParams) => HandlerResult | Promise<HandlerResult>;

/** Server-side endpoints by name (lower case, first path segment after the prefix). */
export const extraEndpoints: Record<string, ExtraEndpoint> = { ...webSocketEndpoints };

/** Client-side case registrars; each calls node:test `test()` and uses `ctx` to reach the server. */
export const extraCases: ((ctx: CaseContext) => void)[] = [registerWebSocketCases];
