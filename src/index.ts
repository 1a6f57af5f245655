export * from './transport/types.js';
export * from './websocket/index.js';
export * from './grpc/index.js';
