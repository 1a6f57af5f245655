import type { Logger, ServerRequest } from '../transport/types.js';
import type { Encoding } from './compression.js';
import type { Metadata } from './metadata.js';
import type { Status } from './status.js';

/** What a handler sees of its call. */
export interface CallContext {
  /** "/pkg.Service/Method" */
  readonly method: string;
  /** "pkg.Service" */
  readonly service: string;
  /** "Method" */
  readonly methodName: string;
  /** Metadata the client sent. */
  readonly metadata: Metadata;
  /** Client address, "ip:port" ("[ip]:port" for IPv6). */
  readonly peer: string;
  /** When the client stops waiting (from grpc-timeout); undefined when it sent none. */
  readonly deadline: Date | undefined;
  /** Aborts on client cancel or disconnect, deadline, or server shutdown; `reason` is a GrpcError saying which. */
  readonly signal: AbortSignal;
  /** Sent as response headers with the first message, at `sendHeaders()`, or with the status. */
  readonly responseMetadata: Metadata;
  /** Send the response headers now (before the first message). Later changes to responseMetadata are ignored. */
  sendHeaders(): void;
  /** Sent with the status. */
  readonly trailers: Metadata;
  /** The underlying HTTP exchange. */
  readonly request: ServerRequest;
  /** Compression the client used for its messages ("identity" when none). */
  readonly requestEncoding: Encoding;
  /** Whether the request message most recently received was compressed. */
  readonly messageCompressed: boolean;
  /** Encodings the client said it accepts for responses (grpc-accept-encoding). */
  readonly acceptEncodings: readonly string[];
  /**
   * Compression for response messages. Starts as the server's `compression.send` when the client
   * accepts it, else "identity"; may be changed until the response headers go out.
   */
  responseEncoding: Encoding;
  /** Compress the next messages written (when `responseEncoding` is not identity). Default true. */
  compressMessages: boolean;
  /** True once the call ended by cancel, deadline or shutdown. */
  readonly cancelled: boolean;
}

// Handler types are declared as methods so that a handler written for a specific
// message type still fits where any handler is expected (method parameters are bivariant).
interface Handlers<Req, Res> {
  unary(request: Req, ctx: CallContext): Res | Promise<Res>;
  serverStreaming(request: Req, ctx: CallContext): AsyncIterable<Res> | Iterable<Res>;
  clientStreaming(requests: AsyncIterable<Req>, ctx: CallContext): Res | Promise<Res>;
  bidi(requests: AsyncIterable<Req>, ctx: CallContext): AsyncIterable<Res> | Iterable<Res>;
  any(requestOrRequests: Req, ctx: CallContext): unknown;
}

/** `async (request, ctx) => response` */
export type UnaryHandler<Req = unknown, Res = unknown> = Handlers<Req, Res>['unary'];
/** `async function* (request, ctx) { yield response; … }` */
export type ServerStreamingHandler<Req = unknown, Res = unknown> = Handlers<Req, Res>['serverStreaming'];
/** `async (requests, ctx) => { for await (const r of requests) …; return response; }` */
export type ClientStreamingHandler<Req = unknown, Res = unknown> = Handlers<Req, Res>['clientStreaming'];
/** `async function* (requests, ctx) { for await (const r of requests) yield response; }` */
export type BidiStreamingHandler<Req = unknown, Res = unknown> = Handlers<Req, Res>['bidi'];
export type MethodHandler<Req = unknown, Res = unknown> =
  | UnaryHandler<Req, Res>
  | ServerStreamingHandler<Req, Res>
  | ClientStreamingHandler<Req, Res>
  | BidiStreamingHandler<Req, Res>;

/**
 * One entry of a ServiceImplementation: any of the four handler styles (which one
 * the method's stream flags decide). Declared as one signature so `ctx` is typed
 * in an object literal without annotations.
 */
export type ServiceHandler = Handlers<unknown, unknown>['any'];

/** Handlers keyed by method name (proto name "SayHello" or lowerCamel "sayHello"). */
export type ServiceImplementation = Readonly<Record<string, ServiceHandler>>;

/** One method as the server runs it; both service styles compile to this. */
export interface MethodDefinition<Req = unknown, Res = unknown> {
  /** "/pkg.Service/Method" */
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  deserialize(bytes: Uint8Array): Req;
  serialize(message: Res): Uint8Array;
  /** Unary, server streaming, client streaming or bidi handler, matching the two flags. */
  readonly handler: MethodHandler<Req, Res>;
  /** Serialized google.protobuf.FileDescriptorProto of the defining file and its dependencies (for reflection). */
  readonly fileDescriptorProtos?: readonly Uint8Array[];
}

/** How a call ended, as interceptors see it. */
export interface CallOutcome {
  readonly code: Status;
  readonly message: string;
  /** What the handler threw, when it threw. */
  readonly error?: unknown;
}

/**
 * Runs around every call. Read `ctx.metadata`, throw a GrpcError to end the
 * call before the handler runs, or await `next()` to see how it ended.
 */
export type Interceptor = (ctx: CallContext, next: () => Promise<CallOutcome>) => Promise<unknown> | void;

export interface CompressionOptions {
  /** Request encodings accepted (identity always is). Default gzip and deflate. */
  readonly accept?: readonly Encoding[];
  /** Compress responses with this when the client accepts it. Default identity. */
  readonly send?: Encoding;
  /** Messages smaller than this are sent uncompressed. Default 0. */
  readonly minBytes?: number;
}

export interface GrpcServerOptions {
  /** Largest request message, before and after decompression. Default 4 MiB. Larger → RESOURCE_EXHAUSTED. */
  readonly maxReceiveMessageLength?: number;
  /** Largest response message. Default 2 GiB − 1. Larger → RESOURCE_EXHAUSTED. */
  readonly maxSendMessageLength?: number;
  /** Largest decompressed request message. Default: maxReceiveMessageLength. */
  readonly maxDecompressedLength?: number;
  /** Largest request metadata (names + values + 32 bytes each). Default 8 KiB. */
  readonly maxMetadataSize?: number;
  readonly compression?: CompressionOptions;
  readonly interceptors?: readonly Interceptor[];
  /** Handler failures and dropped features are reported here. Default: console. */
  readonly logger?: Logger;
  /**
   * Give gRPC requests for methods this server does not have to the next handler
   * on the queue instead of answering UNIMPLEMENTED (for several servers on one queue).
   */
  readonly passUnknownMethods?: boolean;
}

export interface CloseServerOptions {
  /** Milliseconds running calls may take to finish before they are cancelled. Default 5000. */
  readonly graceful?: number;
}

/** What `services()` reports about each registered service. */
export interface ServiceInfo {
  readonly name: string;
  readonly methods: string[];
  readonly fileDescriptorProtos: readonly Uint8Array[];
}
