export * from './transport/types.js';
