export * from './transport/types.js';
export * from './websocket/index.js';
