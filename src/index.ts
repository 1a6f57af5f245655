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
export { HttpSysError, HttpSysUnsupportedError, ResponseTooLargeError, ExchangeResetError } from './transport/httpsys/errors.js';
export * from './grpc/index.js';
export {
  adaptGrpcJsService,
  isGrpcJsServiceDefinition,
  GrpcJsMetadata,
  type GrpcJsMetadataLike,
  type GrpcJsMetadataValue,
  type GrpcJsServiceDefinition,
  type GrpcJsServiceDefinitionInput,
  type GrpcJsMethodDefinition,
  type GrpcJsImplementation,
  type GrpcJsCallback,
  type GrpcJsStatusObject,
  type ServerSurfaceCall,
  ServerUnaryCall,
  ServerReadableStream,
  ServerWritableStream,
  ServerDuplexStream,
} from './grpc/compat/index.js';
export {
  HealthService,
  addHealthService,
  ServingStatus,
  type ServingStatusName,
  type HealthServiceOptions,
  type AddHealthServiceOptions,
} from './grpc/health/index.js';
export {
  ReflectionService,
  addReflectionService,
  DescriptorPool,
  fileDescriptorsForService,
  fileDescriptorsForRoot,
  packageProtoDir,
  type ReflectionOptions,
  type ProtobufjsDescriptorOptions,
} from './grpc/reflection/index.js';
