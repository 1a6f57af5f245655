/**
 * grpc-js compatibility: service definitions from @grpc/proto-loader +
 * grpc.loadPackageDefinition (or generated grpc-js code) and grpc-js style
 * handlers `(call, callback)` become the server's MethodDefinitions, so a
 * grpc-js service moves over by changing only how the server is built.
 */
import { GrpcError } from '../error.js';
import { Status } from '../status.js';
import type {
  BidiStreamingHandler,
  CallContext,
  ClientStreamingHandler,
  MethodDefinition,
  ServerStreamingHandler,
  UnaryHandler,
} from '../types.js';
import {
  ServerDuplexStream,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
} from './calls.js';
import { cancelReason, isCancelled, whenCancelled } from './cancellation.js';
import { grpcErrorFromGrpcJs } from './errors.js';
import { copyIntoMetadata, type GrpcJsMetadataLike } from './metadata.js';
import type { Metadata } from '../metadata.js';
import { setGrpcJsServiceAdapter } from '../server.js';
import {
  isGrpcJsServiceDefinition,
  unwrapGrpcJsDefinition,
  type GrpcJsMethodDefinition,
  type GrpcJsServiceDefinition,
  type GrpcJsServiceDefinitionInput,
} from './definition.js';

export {
  ServerDuplexStream,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  type ServerSurfaceCall,
} from './calls.js';
export { GrpcJsMetadata, type GrpcJsMetadataLike, type GrpcJsMetadataValue } from './metadata.js';
export { grpcErrorFromGrpcJs } from './errors.js';
export {
  isGrpcJsServiceDefinition,
  type GrpcJsMethodDefinition,
  type GrpcJsServiceDefinition,
  type GrpcJsServiceDefinitionInput,
} from './definition.js';

/**
 * grpc-js style handlers keyed by method name (or proto-loader's lowerCamel
 * `originalName`): `(call, callback)` for unary and client streaming,
 * `(call)` for server streaming and bidi.
 */
export type GrpcJsHandler = (call: never, callback: never) => unknown;
export type GrpcJsImplementation = Readonly<Record<string, GrpcJsHandler | undefined>>;

/** Error shapes a grpc-js callback takes: ServiceError, `{ code, details, metadata }`, or any Error. */
export interface GrpcJsStatusObject {
  code?: number;
  details?: string;
  message?: string;
  metadata?: GrpcJsMetadataLike | Metadata | null;
}

/** grpc-js's sendUnaryData. */
export type GrpcJsCallback<Res> = (
  error: GrpcJsStatusObject | Error | null | undefined,
  value?: Res | null,
  trailer?: GrpcJsMetadataLike | Metadata,
  flags?: number,
) => void;

/**
 * Turns a grpc-js service definition and grpc-js style implementation into
 * MethodDefinitions. A method the implementation lacks answers UNIMPLEMENTED,
 * as it does on a grpc-js server.
 */
export function adaptGrpcJsService(
  definition: GrpcJsServiceDefinitionInput,
  implementation: GrpcJsImplementation,
): MethodDefinition[] {
  const service = unwrapGrpcJsDefinition(definition);
  if (!service || !isGrpcJsServiceDefinition(service)) {
    throw new TypeError('addService: expected a grpc-js service definition (from @grpc/proto-loader or generated grpc-js code)');
  }
  const out: MethodDefinition[] = [];
  for (const [name, method] of Object.entries(service)) {
    let impl = implementation[name];
    if (impl === undefined && method.originalName !== undefined) impl = implementation[method.originalName];
    const fileDescriptorProtos = method.requestType?.fileDescriptorProtos;
    out.push({
      path: method.path,
      requestStream: method.requestStream,
      responseStream: method.responseStream,
      deserialize: (bytes) => method.requestDeserialize(asBuffer(bytes)),
      serialize: (message) => method.responseSerialize(message),
      handler: typeof impl === 'function' ? adaptHandler(method, impl) : unimplemented(method, name),
      ...(fileDescriptorProtos ? { fileDescriptorProtos } : {}),
    });
  }
  return out;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function unimplemented(method: GrpcJsMethodDefinition, name: string): MethodDefinition['handler'] {
  const fail = (): never => {
    throw new GrpcError(Status.UNIMPLEMENTED, `The server does not implement the method ${name}`);
  };
  if (!method.responseStream) return fail;
  return async function* (): AsyncGenerator<never> {
    fail();
  };
}

type Impl = (call: unknown, callback?: unknown) => unknown;

function adaptHandler(method: GrpcJsMethodDefinition, handler: GrpcJsHandler): MethodDefinition['handler'] {
  const impl = handler as unknown as Impl;
  if (!method.requestStream && !method.responseStream) return unary(impl);
  if (!method.requestStream) return serverStreaming(impl);
  if (!method.responseStream) return clientStreaming(impl);
  return bidi(impl);
}

/** The callback grpc-js handlers answer through; settles the handler's promise once. */
function callbackFor(ctx: CallContext, resolve: (value: unknown) => void, reject: (error: unknown) => void): GrpcJsCallback<unknown> {
  let called = false;
  return (error, value, trailer) => {
    if (called) return;
    called = true;
    if (error) {
      reject(grpcErrorFromGrpcJs(error));
      return;
    }
    copyIntoMetadata(ctx.trailers, trailer);
    resolve(value ?? null);
  };
}

/** Runs a handler, turning a synchronous throw into a rejection. */
function start(run: () => unknown, reject: (error: unknown) => void): void {
  try {
    const result = run();
    if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
      (result as PromiseLike<unknown>).then(undefined, reject);
    }
  } catch (error) {
    reject(error);
  }
}

/** Rejects when the call is cancelled before the handler answered. */
function rejectOnAbort(ctx: CallContext, reject: (error: unknown) => void): () => void {
  if (isCancelled(ctx)) {
    reject(cancelReason(ctx));
    return () => undefined;
  }
  return whenCancelled(ctx, reject);
}

/** A promise settled by `run`'s resolve/reject; the cleanup `run` returns runs once it settles. */
function settled(run: (resolve: (value: unknown) => void, reject: (error: unknown) => void) => () => void): Promise<unknown> {
  let cleanup: (() => void) | undefined;
  const promise = new Promise<unknown>((resolve, reject) => {
    cleanup = run(resolve, reject);
  });
  return promise.finally(() => cleanup?.());
}

function unary(impl: Impl): UnaryHandler {
  return (request, ctx) =>
    settled((resolve, reject) => {
      const call = new ServerUnaryCall(ctx, request);
      const stop = rejectOnAbort(ctx, reject);
      start(() => impl(call, callbackFor(ctx, resolve, reject)), reject);
      return () => {
        stop();
        call.surface.finish();
      };
    });
}

function clientStreaming(impl: Impl): ClientStreamingHandler {
  return (requests, ctx) =>
    settled((resolve, reject) => {
      const call = new ServerReadableStream(ctx, requests, reject);
      const stop = rejectOnAbort(ctx, reject);
      start(() => impl(call, callbackFor(ctx, resolve, reject)), reject);
      return () => {
        stop();
        call.surface.finish();
        call.destroy();
      };
    });
}

function serverStreaming(impl: Impl): ServerStreamingHandler {
  return async function* (request, ctx) {
    const call = new ServerWritableStream(ctx, request);
    try {
      start(() => impl(call), (error) => call.outbox.failThrown(error));
      yield* call.outbox.messages();
    } finally {
      call.surface.finish();
      // As on a grpc-js server: a call that ended (also by cancel) closes its stream.
      call.destroy();
    }
  };
}

function bidi(impl: Impl): BidiStreamingHandler {
  return async function* (requests, ctx) {
    let call: ServerDuplexStream<unknown, unknown> | undefined;
    call = new ServerDuplexStream(ctx, requests, (error) => call?.outbox.fail(error));
    try {
      start(() => impl(call), (error) => call?.outbox.failThrown(error));
      yield* call.outbox.messages();
    } finally {
      call.surface.finish();
      call.destroy();
    }
  };
}

// server.addService(grpcJsDefinition, implementation) compiles through this module.
setGrpcJsServiceAdapter((definition, implementation) =>
  adaptGrpcJsService(definition as unknown as GrpcJsServiceDefinition, implementation as GrpcJsImplementation),
);
