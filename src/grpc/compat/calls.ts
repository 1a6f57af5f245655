/**
 * Call objects shaped like @grpc/grpc-js's server calls (ServerUnaryCall,
 * ServerReadableStream, ServerWritableStream, ServerDuplexStream), backed by
 * this server's CallContext and message iterables.
 */
import { EventEmitter } from 'node:events';
import { Duplex, Readable, Writable } from 'node:stream';
import type { CallContext } from '../types.js';
import { grpcErrorFromGrpcJs, isOkStatus } from './errors.js';
import { GrpcJsMetadata, copyIntoMetadata, isGrpcJsMetadataLike, type GrpcJsMetadataLike } from './metadata.js';
import { Metadata } from '../metadata.js';
import { cancelReason, isCancelled, whenCancelled } from './cancellation.js';

/** What every grpc-js server call offers, whatever its kind. */
export interface ServerSurfaceCall {
  /** True once the client cancelled, the deadline passed or the server shut down. */
  readonly cancelled: boolean;
  /** The metadata the client sent. */
  readonly metadata: GrpcJsMetadata;
  /** "ip:port" of the client. */
  getPeer(): string;
  /** Sends response headers now, with these entries added. Only the first call counts. */
  sendMetadata(responseMetadata: GrpcJsMetadataLike | Metadata): void;
  /** The deadline the client set, or Infinity. */
  getDeadline(): Date | number;
  /** "/pkg.Service/Method" */
  getPath(): string;
  /** The authority the client addressed. */
  getHost(): string;
  /** Transport security facts, as far as grpc-js reports them. */
  getAuthContext(): { transportSecurityType?: string };
}

/** Per-call plumbing shared by the four call classes. */
class Surface {
  #metadata: GrpcJsMetadata | undefined;
  #headersSent = false;
  #finished = false;
  #unfollow: (() => void) | undefined;

  constructor(
    readonly ctx: CallContext,
    emitter: EventEmitter,
  ) {
    const onCancelled = (): void => {
      if (!this.#finished) emitter.emit('cancelled', 'cancelled');
    };
    if (isCancelled(ctx)) queueMicrotask(onCancelled);
    else this.#unfollow = whenCancelled(ctx, onCancelled);
  }

  /** The client's metadata in grpc-js form, converted on first read (or what a handler assigned). */
  get metadata(): GrpcJsMetadata {
    return (this.#metadata ??= GrpcJsMetadata.fromMetadata(this.ctx.metadata));
  }

  set metadata(metadata: GrpcJsMetadata) {
    this.#metadata = metadata;
  }

  finish(): void {
    this.#finished = true;
    const unfollow = this.#unfollow;
    this.#unfollow = undefined;
    unfollow?.();
  }

  sendMetadata(md: GrpcJsMetadataLike | Metadata): void {
    if (this.#headersSent) return;
    this.#headersSent = true;
    copyIntoMetadata(this.ctx.responseMetadata, md);
    this.ctx.sendHeaders();
  }

  host(): string {
    const h = this.ctx.request.headers;
    return h[':authority'] ?? h['host'] ?? this.ctx.request.host;
  }
}

interface WithSurface {
  readonly surface: Surface;
}

/**
 * The ServerSurfaceCall members, defined once on each call class's prototype
 * (enumerable, as grpc-js users may list them) and reading the call's surface.
 */
const surfaceMembers: PropertyDescriptorMap = {
  cancelled: {
    get(this: WithSurface): boolean {
      return isCancelled(this.surface.ctx);
    },
    enumerable: true,
    configurable: true,
  },
  metadata: {
    get(this: WithSurface): GrpcJsMetadata {
      return this.surface.metadata;
    },
    set(this: WithSurface, metadata: GrpcJsMetadata) {
      this.surface.metadata = metadata;
    },
    enumerable: true,
    configurable: true,
  },
  getPeer: method(function (this: WithSurface) {
    return this.surface.ctx.peer;
  }),
  sendMetadata: method(function (this: WithSurface, md: GrpcJsMetadataLike | Metadata) {
    this.surface.sendMetadata(md);
  }),
  getDeadline: method(function (this: WithSurface) {
    return this.surface.ctx.deadline ?? Infinity;
  }),
  getPath: method(function (this: WithSurface) {
    return this.surface.ctx.method;
  }),
  getHost: method(function (this: WithSurface) {
    return this.surface.host();
  }),
  getAuthContext: method(function (this: WithSurface) {
    return this.surface.ctx.request.secure ? { transportSecurityType: 'ssl' } : {};
  }),
};

function method(fn: (this: WithSurface, ...args: never[]) => unknown): PropertyDescriptor {
  return { value: fn, writable: true, enumerable: true, configurable: true };
}

// ---------------------------------------------------------------------------

export interface ServerUnaryCall<Req> extends ServerSurfaceCall {}
/** A unary call: `call.request`, metadata, deadline; the answer goes through the callback. */
export class ServerUnaryCall<Req> extends EventEmitter {
  readonly request: Req;
  /** @internal */
  readonly surface: Surface;

  constructor(ctx: CallContext, request: Req) {
    super();
    this.request = request;
    this.surface = new Surface(ctx, this);
  }
}

// ---------------------------------------------------------------------------

/**
 * Receives what a grpc-js handler writes and hands it out, one message at a
 * time, to the server's response iterator. A write completes (its callback
 * runs) only once the server has taken the message, which gives grpc-js style
 * backpressure (`write()` returns false, then 'drain').
 */
class Outbox {
  readonly #pending: { chunk: unknown; done: (error?: Error | null) => void }[] = [];
  #ended = false;
  #error: unknown;
  #failed = false;
  /** The failure is what the handler threw (not an error it emitted or answered with). */
  #thrown = false;
  #closed = false;
  #wake: (() => void) | undefined;
  trailers: GrpcJsMetadataLike | Metadata | undefined;

  constructor(readonly ctx: CallContext) {
    if (!isCancelled(ctx)) whenCancelled(ctx, () => this.#poke());
  }

  write(chunk: unknown, done: (error?: Error | null) => void): void {
    if (this.#closed || this.#ended) {
      done();
      return;
    }
    this.#pending.push({ chunk, done });
    this.#poke();
  }

  end(): void {
    this.#ended = true;
    this.#poke();
  }

  /**
   * The handler threw: the call ends as for any handler that throws (a
   * GrpcError keeps its status; anything else is logged and sent as UNKNOWN
   * without its message, as grpc-js sends "Unknown error").
   */
  failThrown(error: unknown): void {
    if (this.#failed || this.#ended) return;
    this.#thrown = true;
    this.fail(error);
  }

  fail(error: unknown): void {
    if (this.#failed || this.#ended) return;
    this.#failed = true;
    this.#error = error;
    this.#poke();
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async *messages(): AsyncGenerator<unknown> {
    try {
      for (;;) {
        const next = this.#pending.shift();
        if (next) {
          try {
            yield next.chunk;
          } finally {
            // Also when the server stops taking messages here (the call ended):
            // the write completes, so the stream's later writes and end() go on.
            next.done();
          }
          continue;
        }
        if (this.#failed) {
          if (this.#thrown) throw this.#error;
          if (isOkStatus(this.#error)) {
            const md = (this.#error as { metadata?: unknown }).metadata;
            if (md instanceof Metadata || isGrpcJsMetadataLike(md)) copyIntoMetadata(this.ctx.trailers, md);
            return;
          }
          throw grpcErrorFromGrpcJs(this.#error);
        }
        if (this.#ended) {
          copyIntoMetadata(this.ctx.trailers, this.trailers);
          return;
        }
        if (isCancelled(this.ctx)) throw cancelReason(this.ctx);
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      this.#closed = true;
      for (const p of this.#pending.splice(0)) p.done();
    }
  }
}

/** Pulls request messages from the server's iterable into a Readable, on demand. */
class Inbox {
  readonly #iterator: AsyncIterator<unknown>;
  #reading = false;

  constructor(
    requests: AsyncIterable<unknown>,
    readonly onError: (error: unknown) => void,
  ) {
    this.#iterator = requests[Symbol.asyncIterator]();
  }

  read(stream: Readable): void {
    if (this.#reading) return;
    this.#reading = true;
    void this.#pump(stream);
  }

  async #pump(stream: Readable): Promise<void> {
    try {
      for (;;) {
        const r = await this.#iterator.next();
        if (r.done) {
          stream.push(null);
          return;
        }
        if (!stream.push(r.value)) return;
      }
    } catch (error) {
      this.onError(error);
      stream.destroy();
    } finally {
      this.#reading = false;
    }
  }

  /** Stops reading requests (the call is over). */
  close(): void {
    void this.#iterator.return?.().catch(() => undefined);
  }
}

function trailerArgument(args: readonly unknown[]): GrpcJsMetadataLike | Metadata | undefined {
  const first = args[0];
  return first instanceof Metadata || isGrpcJsMetadataLike(first) ? first : undefined;
}

// ---------------------------------------------------------------------------

export interface ServerReadableStream<Req> extends ServerSurfaceCall {}
/** A client-streaming call: read requests with `on('data')`/`on('end')` or `for await`. */
export class ServerReadableStream<Req> extends Readable {
  /** @internal */
  readonly surface: Surface;
  readonly #inbox: Inbox;

  constructor(ctx: CallContext, requests: AsyncIterable<Req>, onRequestError: (error: unknown) => void) {
    super({ objectMode: true, highWaterMark: 16 });
    this.surface = new Surface(ctx, this);
    this.#inbox = new Inbox(requests, onRequestError);
  }

  override _read(): void {
    this.#inbox.read(this);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#inbox.close();
    callback(error);
  }

  /** Typed async iteration over the requests. */
  override [Symbol.asyncIterator](): NodeJS.AsyncIterator<Req> {
    return super[Symbol.asyncIterator]() as NodeJS.AsyncIterator<Req>;
  }
}

export interface ServerWritableStream<Req, Res> extends ServerSurfaceCall {}
/** A server-streaming call: `call.request`, then `write()` responses and `end(trailers?)`. */
export class ServerWritableStream<Req, Res> extends Writable {
  readonly request: Req;
  /** @internal */
  readonly surface: Surface;
  /** @internal */
  readonly outbox: Outbox;

  constructor(ctx: CallContext, request: Req) {
    super({ objectMode: true, highWaterMark: 16 });
    this.request = request;
    this.surface = new Surface(ctx, this);
    this.outbox = new Outbox(ctx);
    this.on('error', (error: unknown) => this.outbox.fail(error));
  }

  override _write(chunk: Res, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.outbox.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.outbox.end();
    callback();
  }

  /** Ends the response stream; metadata given here is sent as trailers. */
  override end(...args: unknown[]): this {
    const trailers = trailerArgument(args);
    if (trailers) {
      this.outbox.trailers = trailers;
      return super.end();
    }
    return super.end(...(args as Parameters<Writable['end']>));
  }
}

export interface ServerDuplexStream<Req, Res> extends ServerSurfaceCall {}
/** A bidi call: read requests as a Readable, write responses as a Writable. */
export class ServerDuplexStream<Req, Res> extends Duplex {
  /** @internal */
  readonly surface: Surface;
  /** @internal */
  readonly outbox: Outbox;
  readonly #inbox: Inbox;

  constructor(ctx: CallContext, requests: AsyncIterable<Req>, onRequestError: (error: unknown) => void) {
    super({ objectMode: true, readableHighWaterMark: 16, writableHighWaterMark: 16 });
    this.surface = new Surface(ctx, this);
    this.outbox = new Outbox(ctx);
    this.#inbox = new Inbox(requests, onRequestError);
    this.on('error', (error: unknown) => this.outbox.fail(error));
  }

  override _read(): void {
    this.#inbox.read(this);
  }

  override _write(chunk: Res, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.outbox.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.outbox.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#inbox.close();
    callback(error);
  }

  override end(...args: unknown[]): this {
    const trailers = trailerArgument(args);
    if (trailers) {
      this.outbox.trailers = trailers;
      return super.end();
    }
    return super.end(...(args as Parameters<Duplex['end']>));
  }

  override [Symbol.asyncIterator](): NodeJS.AsyncIterator<Req> {
    return super[Symbol.asyncIterator]() as NodeJS.AsyncIterator<Req>;
  }
}

for (const callClass of [ServerUnaryCall, ServerReadableStream, ServerWritableStream, ServerDuplexStream]) {
  Object.defineProperties(callClass.prototype, surfaceMembers);
}
