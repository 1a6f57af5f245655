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
import { grpcErrorFromGrpcJs } from './errors.js';
import { copyIntoMetadata, type GrpcJsMetadataLike } from './metadata.js';
import type { Metadata } from '../metadata.js';
import { setGrpcJsServiceAdapter } from '../server.js';

export {
  ServerDuplexStream,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  type ServerSurfaceCall,
} from './calls.js';
export { GrpcJsMetadata, type GrpcJsMetadataLike, type GrpcJsMetadataValue } from './metadata.js';
export { grpcErrorFromGrpcJs } from './errors.js';

/** One method of a grpc-js service definition (what proto-loader and generated code produce). */
export interface GrpcJsMethodDefinition<Req = unknown, Res = unknown> {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  requestDeserialize(bytes: Buffer): Req;
  responseSerialize(message: Res): Buffer;
  readonly originalName?: string;
  /** proto-loader keeps the serialized FileDescriptorProtos of the whole load here. */
  readonly requestType?: { readonly fileDescriptorProtos?: readonly Uint8Array[] };
}

/** A grpc-js ServiceDefinition: method name → method definition. */
export type GrpcJsServiceDefinition = Readonly<Record<string, GrpcJsMethodDefinition>>;

/** A grpc-js service definition, or a client constructor from loadPackageDefinition (its `.service`). */
export type GrpcJsServiceDefinitionInput = GrpcJsServiceDefinition | { readonly service: GrpcJsServiceDefinition };

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

function isMethodDefinition(value: unknown): value is GrpcJsMethodDefinition {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['path'] === 'string' &&
    typeof v['requestStream'] === 'boolean' &&
    typeof v['responseStream'] === 'boolean' &&
    typeof v['requestDeserialize'] === 'function' &&
    typeof v['responseSerialize'] === 'function'
  );
}

/** True for a grpc-js ServiceDefinition (or a client constructor carrying one as `.service`). */
export function isGrpcJsServiceDefinition(value: unknown): value is GrpcJsServiceDefinitionInput {
  const definition = unwrap(value);
  if (!definition) return false;
  const methods = Object.values(definition);
  return methods.length > 0 && methods.every(isMethodDefinition);
}

function unwrap(value: unknown): GrpcJsServiceDefinition | undefined {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  const service = (value as { service?: unknown }).service;
  if (service !== null && typeof service === 'object') return service as GrpcJsServiceDefinition;
  return typeof value === 'object' ? (value as GrpcJsServiceDefinition) : undefined;
}

/**
 * Turns a grpc-js service definition and grpc-js style implementation into
 * MethodDefinitions. A method the implementation lacks answers UNIMPLEMENTED,
 * as it does on a grpc-js server.
 */
export function adaptGrpcJsService(
  definition: GrpcJsServiceDefinitionInput,
  implementation: GrpcJsImplementation,
): MethodDefinition[] {
  const service = unwrap(definition);
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
  const onAbort = (): void => reject(ctx.signal.reason);
  if (ctx.signal.aborted) onAbort();
  else ctx.signal.addEventListener('abort', onAbort, { once: true });
  return () => ctx.signal.removeEventListener('abort', onAbort);
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
      start(() => impl(call), (error) => call.outbox.fail(error));
      yield* call.outbox.messages();
    } finally {
      call.surface.finish();
    }
  };
}

function bidi(impl: Impl): BidiStreamingHandler {
  return async function* (requests, ctx) {
    let call: ServerDuplexStream<unknown, unknown> | undefined;
    call = new ServerDuplexStream(ctx, requests, (error) => call?.outbox.fail(error));
    try {
      start(() => impl(call), (error) => call?.outbox.fail(error));
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
