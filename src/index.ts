export * from './transport/types.js';
export * from './websocket/index.js';
export { createRequestQueue } from './transport/queue.js';
export { readBody } from './transport/body.js';
export { parseUrlPrefix, formatUrlPrefix, matchUrlPrefix } from './transport/prefix.js';
export type { UrlPrefix, PrefixHostKind, RouteTarget } from './transport/prefix.js';
export {
  HttpError,
  RequestBodyTooLargeError,
  UrlPrefixError,
  BackendUnavailableError,
  ExchangeAbortedError,
  ClientDisconnectedError,
  ClientResetError,
  QueueClosedError,
} from './transport/errors.js';
export * from './grpc/index.js';
