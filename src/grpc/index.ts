import './compat/index.js'; // installs the grpc-js service adapter used by GrpcServer.addService
export { GrpcServer, setGrpcJsServiceAdapter, type GrpcJsServiceDefinitionLike, type GrpcJsServiceAdapter } from './server.js';
export { GrpcError, type GrpcErrorOptions } from './error.js';
export { Status, statusName, isStatus, httpStatusFromGrpc, grpcStatusFromHttp } from './status.js';
export {
  Metadata,
  type MetadataValue,
  isValidMetadataName,
  encodeBinaryValue,
  decodeBinaryValue,
  metadataFromHeaders,
} from './metadata.js';
export { encodeGrpcMessage, decodeGrpcMessage } from './message-encoding.js';
export { parseTimeout, formatTimeout } from './timeout.js';
export { encodeFrame, FrameDecoder, readFrames, type Frame } from './framing.js';
export { compress, decompress, parseEncodingList, type Encoding } from './compression.js';
export { loadProtos, methodsFromService, type LoadProtosOptions } from './protobuf-service.js';
export type {
  CallContext,
  CallOutcome,
  Interceptor,
  MethodDefinition,
  MethodHandler,
  UnaryHandler,
  ServerStreamingHandler,
  ClientStreamingHandler,
  BidiStreamingHandler,
  ServiceImplementation,
  ServiceHandler,
  GrpcServerOptions,
  CompressionOptions,
  CloseServerOptions,
  ServiceInfo,
} from './types.js';
export { encodeStatusDetails, decodeStatusDetails, type RpcStatus, type AnyMessage } from './status-details.js';
