/**
 * One running gRPC call: its context for the handler, its response (headers,
 * messages, status) and the ways it can end (handler done, error, cancel,
 * deadline, shutdown). Whatever ends it first wins; later outcomes are dropped.
 */
import { QueueClosedError, RequestBodyTooLargeError } from '../transport/errors.js';
import type { AbortListener, HandlerResult, Logger, ServerRequest, ServerResponse } from '../transport/types.js';
import { compress, decompress, parseEncodingList, type Encoding } from './compression.js';
import { GrpcError } from './error.js';
import { framedCodecOf } from './framed-codec.js';
import { encodeFrame, FRAME_HEADER_LENGTH, FrameDecoder, splitWholeFrames, type Frame } from './framing.js';
import { encodeGrpcMessage } from './message-encoding.js';
import { Metadata, encodeBinaryValue, readCheckedMetadata } from './metadata.js';
import { Outbox } from './outbox.js';
import { pendingPromise, takeResolver } from './resolvable.js';
import { Status } from './status.js';
import { MAX_TIMER_MS, setLongTimeout } from './timeout.js';
import type { CallContext, CallOutcome, MethodDefinition } from './types.js';

export type HeaderRecord = Record<string, string | string[]>;

/** Settings every call of one server shares. */
export interface CallConfig {
  readonly maxReceive: number;
  readonly maxSend: number;
  readonly maxDecompressed: number;
  /** Value of grpc-accept-encoding sent in responses. */
  readonly acceptHeader: string;
  /** The response headers of a call with no response metadata and no compression (frozen, shared). */
  readonly plainHeaders: Readonly<HeaderRecord>;
  readonly minCompressBytes: number;
  readonly logger: Logger;
  /** Bytes of framed messages queued before a streaming handler waits. */
  readonly highWater: number;
  /** Called once when a call has ended. */
  readonly onEnd: (call: Call) => void;
}

/** Event loop turns a cleanly ended request stream waits for a reset to surface. */
const CONFIRM_END_TURNS = 3;
const OK_TRAILERS = Object.freeze({ 'grpc-status': '0' });
const STATE_PENDING = 0; // nothing handed to the transport yet
const STATE_STREAMING = 1; // headers handed over; body is the outbox
const STATE_DONE = 2; // status decided

function noop(): void {}

function onDeadlineTimer(call: Call): void {
  call.deadlineTimerFired();
}

function encodeCompressedFrame(payload: Uint8Array): Uint8Array {
  return encodeFrame(payload, true);
}

function bracketHost(addr: string): string {
  return addr.includes(':') ? `[${addr}]` : addr;
}

/** The method a call runs, shared by all its calls. */
export interface CallTarget {
  readonly def: MethodDefinition;
  /** "pkg.Service" */
  readonly service: string;
  /** "Method" */
  readonly name: string;
}

/** How a call ended (when not simply OK). */
interface Ending {
  readonly code: Status;
  readonly message: string;
  readonly details: Uint8Array | undefined;
  readonly metadata: Metadata | undefined;
  /** What the handler threw, when it threw. */
  readonly thrown: unknown;
}

const OK_ENDING: Ending = Object.freeze({ code: Status.OK, message: '', details: undefined, metadata: undefined, thrown: undefined });

/** An interceptor's wait for the outcome. */
interface OutcomeWait {
  readonly promise: Promise<CallOutcome>;
  settle: ((o: CallOutcome) => void) | undefined;
}

export class Call implements CallContext {
  readonly request: ServerRequest;
  readonly requestEncoding: Encoding;
  compressMessages = true;
  messageCompressed = false;

  /** @internal Neighbours in the server's list of running calls. */
  prevActive: Call | undefined = undefined;
  /** @internal */
  nextActive: Call | undefined = undefined;
  readonly #config: CallConfig;
  readonly #target: CallTarget;
  #resolve: ((r: HandlerResult) => void) | undefined;
  #state = STATE_PENDING;
  #responseEncoding: Encoding = 'identity';
  #acceptEncodings: readonly string[] | undefined;
  #responseMetadata: Metadata | undefined;
  #trailers: Metadata | undefined;
  #controller: AbortController | undefined;
  #cancelReason: GrpcError | undefined;
  #outbox: Outbox | undefined;
  /** Set when the call ends through #finish; undefined means OK. */
  #ending: Ending | undefined;
  /** When the client stops waiting (ms since the epoch), -1 when it sent no grpc-timeout; the Date is made when read. */
  readonly #deadlineAt: number;
  #deadline: Date | undefined;
  /** The deadline timer: a Node timer, or the cancel function of a delay longer than a timer takes. */
  #timer: NodeJS.Timeout | (() => void) | undefined;
  #outcome: OutcomeWait | undefined;
  /** Set while the call follows the client's signal. */
  #abortListener: (() => void) | undefined;
  /** What the request calls on abort, where it can be followed without its signal. */
  #abortFollower: AbortListener | undefined;
  /** Told when the call is cancelled (see onCancelled). */
  #cancelListeners: ((reason: GrpcError) => void)[] | undefined;
  /** Request metadata, built on first read; `#hasMetadata` says whether the (checked) headers carry any. */
  #metadata: Metadata | undefined;
  readonly #hasMetadata: boolean;

  constructor(
    config: CallConfig,
    target: CallTarget,
    request: ServerRequest,
    hasMetadata: boolean,
    requestEncoding: Encoding,
    sendEncoding: Encoding,
    deadlineAt: number,
  ) {
    this.#config = config;
    this.#target = target;
    this.request = request;
    this.#hasMetadata = hasMetadata;
    this.requestEncoding = requestEncoding;
    this.#deadlineAt = deadlineAt;
    // grpc-accept-encoding is parsed only when a response could be compressed.
    if (sendEncoding !== 'identity' && this.acceptEncodings.includes(sendEncoding)) this.#responseEncoding = sendEncoding;
    // Streaming calls follow the client from the start. A unary call checks the
    // client when it responds, and follows it only once something needs to know
    // sooner (the handler's signal, an interceptor's outcome): a listener per call
    // is measurable on the unary hot path.
    if (target.def.requestStream || target.def.responseStream) this.#watchClient();
  }

  /** "/pkg.Service/Method" */
  get method(): string {
    return this.#target.def.path;
  }

  /** "pkg.Service" */
  get service(): string {
    return this.#target.service;
  }

  /** "Method" */
  get methodName(): string {
    return this.#target.name;
  }

  /**
   * @internal The promise the transport handler returns, resolved once with the
   * response. Called once, before the call can end; the call keeps only the
   * resolver (until it responds), not the promise.
   */
  responsePromise(): Promise<HandlerResult> {
    const promise = pendingPromise<HandlerResult>();
    this.#resolve = takeResolver<HandlerResult>();
    return promise;
  }

  #watchClient(): void {
    if (this.#abortListener !== undefined || this.#state === STATE_DONE) return;
    const request = this.request;
    const listener = (this.#abortListener = () => this.#onAbort());
    if (request.onAbort !== undefined && request.offAbort !== undefined) {
      // Followed without creating the request's AbortSignal (about 1.3 KB per held call).
      const follower: AbortListener = (this.#abortFollower = { exchangeAborted: () => queueMicrotask(listener) });
      request.onAbort(follower);
      return;
    }
    const signal = request.signal;
    if (signal.aborted) queueMicrotask(listener);
    else signal.addEventListener('abort', listener, { once: true });
  }

  #onAbort(): void {
    this.cancel(new GrpcError(Status.CANCELLED, 'the client cancelled the call'));
  }

  // ---- CallContext -------------------------------------------------------

  /** Metadata the client sent (its header lines were checked when the call started). */
  get metadata(): Metadata {
    return (this.#metadata ??= this.#hasMetadata ? readCheckedMetadata(this.request.rawHeaders) : new Metadata());
  }

  get peer(): string {
    return `${bracketHost(this.request.remoteAddress)}:${this.request.remotePort}`;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#watchClient();
      this.#controller = new AbortController();
      if (this.#cancelReason !== undefined) this.#controller.abort(this.#cancelReason);
    }
    return this.#controller.signal;
  }

  /** Encodings the client accepts for responses (grpc-accept-encoding), parsed on first use. */
  get acceptEncodings(): readonly string[] {
    return (this.#acceptEncodings ??= parseEncodingList(this.request.headers['grpc-accept-encoding']));
  }

  get cancelled(): boolean {
    return this.#cancelReason !== undefined;
  }

  /** @internal Why the call was cancelled (what ctx.signal.reason would be), undefined while it was not. */
  get cancelReason(): GrpcError | undefined {
    return this.#cancelReason;
  }

  /**
   * @internal Run `listener` once if the call is cancelled later (client gone,
   * deadline, shutdown), just after ctx.signal would abort, without creating
   * that signal. Returns a function that removes it. Nothing happens for a
   * call already cancelled or ended: check `cancelReason` first.
   */
  onCancelled(listener: (reason: GrpcError) => void): () => void {
    if (this.#state === STATE_DONE) return noop;
    this.#watchClient();
    (this.#cancelListeners ??= []).push(listener);
    return () => {
      const list = this.#cancelListeners;
      const i = list === undefined ? -1 : list.indexOf(listener);
      if (i !== -1) list!.splice(i, 1);
    };
  }

  get responseMetadata(): Metadata {
    return (this.#responseMetadata ??= new Metadata());
  }

  get trailers(): Metadata {
    return (this.#trailers ??= new Metadata());
  }

  get responseEncoding(): Encoding {
    return this.#responseEncoding;
  }

  set responseEncoding(encoding: Encoding) {
    if (this.#state !== STATE_PENDING) return;
    this.#responseEncoding = encoding === 'identity' || this.acceptEncodings.includes(encoding) ? encoding : 'identity';
  }

  sendHeaders(): void {
    if (this.#state === STATE_PENDING) this.#startStreaming();
  }

  // ---- lifecycle ---------------------------------------------------------

  /** True once the status is decided. */
  get done(): boolean {
    return this.#state === STATE_DONE;
  }

  /** When the client stops waiting (from grpc-timeout); undefined when it sent none. */
  get deadline(): Date | undefined {
    return this.#deadlineAt < 0 ? undefined : (this.#deadline ??= new Date(this.#deadlineAt));
  }

  /** @internal Arm the deadline: `ms` from now the call ends with DEADLINE_EXCEEDED. */
  armDeadline(ms: number): void {
    if (ms > MAX_TIMER_MS) {
      this.#timer = setLongTimeout(() => this.#deadlineReached(), ms);
      return;
    }
    // One shared callback with the call as its argument: no closure per call.
    const timer = setTimeout(onDeadlineTimer, Math.max(0, Math.ceil(ms)), this);
    timer.unref();
    this.#timer = timer;
  }

  /** @internal The deadline timer fired (a timer may fire a little early: the rest is waited out). */
  deadlineTimerFired(): void {
    this.#timer = undefined;
    const rest = this.#deadlineAt - Date.now();
    if (rest > 0 && this.#state !== STATE_DONE) this.armDeadline(rest);
    else this.#deadlineReached();
  }

  #deadlineReached(): void {
    this.cancel(new GrpcError(Status.DEADLINE_EXCEEDED, 'deadline exceeded'));
  }

  /** Resolves with the outcome once the call has ended (for interceptors). */
  get outcome(): Promise<CallOutcome> {
    if (this.#outcome === undefined) {
      this.#watchClient();
      if (this.#state === STATE_DONE) {
        this.#outcome = { promise: Promise.resolve(this.#makeOutcome()), settle: undefined };
      } else {
        let settle!: (o: CallOutcome) => void;
        const promise = new Promise<CallOutcome>((resolve) => {
          settle = resolve;
        });
        this.#outcome = { promise, settle };
      }
    }
    return this.#outcome.promise;
  }

  /** End the call because of cancel, deadline or shutdown: the handler's signal aborts. */
  cancel(reason: GrpcError): void {
    if (this.#state === STATE_DONE) return;
    this.#cancelReason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#cancelListeners;
    this.#cancelListeners = undefined;
    if (listeners !== undefined) {
      for (const listener of listeners) {
        try {
          listener(reason);
        } catch (e) {
          // As for an abort listener: reported as an uncaught exception, the call goes on ending.
          process.nextTick(() => {
            throw e;
          });
        }
      }
    }
    this.#finish({ code: reason.code, message: reason.message, details: undefined, metadata: undefined, thrown: undefined });
  }

  /** End the call with whatever the handler (or the protocol) threw. */
  fail(error: unknown): void {
    if (this.#state === STATE_DONE) return;
    if (error instanceof GrpcError) {
      this.#finish({ code: error.code, message: error.message, details: error.details, metadata: error.metadata, thrown: error });
      return;
    }
    this.#config.logger.error(`gRPC handler for ${this.method} failed`, error);
    this.#finish({ code: Status.UNKNOWN, message: 'unexpected error in the call handler', details: undefined, metadata: undefined, thrown: error });
  }

  /** End the call with OK. */
  succeed(): void {
    if (this.#state !== STATE_DONE) this.#finish(OK_ENDING);
  }

  // ---- request messages --------------------------------------------------

  /** @internal Largest request message accepted. */
  get maxReceive(): number {
    return this.#config.maxReceive;
  }

  /**
   * @internal Read the one request message of a unary or server-streaming call
   * from `body`, after `received` (chunks already taken from it). Chunks are
   * decoded as they arrive, so an over-long declared length is refused at once.
   * Resolves with undefined when the call ended meanwhile.
   */
  async readOneFrom(body: AsyncIterator<Uint8Array>, received: readonly Uint8Array[]): Promise<unknown> {
    let frame: Frame | undefined;
    let count = 0;
    const decoder = new FrameDecoder(this.#config.maxReceive, (f) => {
      frame = f;
      count++;
    });
    for (let i = 0; ; i++) {
      let chunk: Uint8Array;
      if (i < received.length) {
        chunk = received[i]!;
      } else {
        let r: IteratorResult<Uint8Array>;
        try {
          r = await body.next();
        } catch (e) {
          throw this.#requestError(e);
        }
        if (r.done) break;
        chunk = r.value;
      }
      if (this.#state === STATE_DONE) {
        try {
          await body.return?.();
        } catch (e) {
          throw this.#requestError(e);
        }
        return undefined;
      }
      try {
        decoder.push(chunk);
      } catch (e) {
        // As a `for await` loop would: the body is told to stop before the error propagates.
        try {
          await body.return?.();
        } catch {
          // the error that stopped the loop is the one reported
        }
        throw this.#requestError(e);
      }
    }
    decoder.end();
    if (count !== 1 || frame === undefined) {
      throw new GrpcError(
        Status.INTERNAL,
        count === 0 ? 'the request has no message' : `expected one request message, received ${count}`,
      );
    }
    return this.decodeFrame(frame);
  }

  /** The request messages of a client-streaming or bidi call. */
  readMany(): AsyncIterableIterator<unknown> {
    return new RequestStream(this, this.request.body, this.#config.maxReceive);
  }

  /** @internal A request body read failed: the status the call ends with. */
  requestFailed(e: unknown): GrpcError {
    const error = this.#requestError(e);
    this.fail(error);
    return error;
  }

  /** @internal The request body ended cleanly; resolves with the cancel reason if the client reset the stream instead. */
  async confirmEnd(): Promise<GrpcError | undefined> {
    // Node's HTTP/2 stream ends its readable side before the transport sees the
    // client's RST_STREAM (it learns of it when the stream closes, a few event
    // loop turns later); wait those turns, so a cancelled client stream is not
    // mistaken for a completed one. Runs once per streaming call, at its end.
    for (let turn = 0; turn < CONFIRM_END_TURNS && !this.#clientGone(); turn++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return this.#cancelReason;
  }

  /** @internal Decode one request frame (may need to wait for decompression). */
  decodeFrame(frame: Frame): unknown {
    return this.#decode(frame.compressed, frame.payload);
  }

  /** @internal Decode the request message of a chunk that is exactly one whole frame (may need to wait for decompression). */
  decodeWholeFrame(frame: Uint8Array): unknown {
    const compressed = frame[0] === 1;
    const codec = compressed ? undefined : framedCodecOf(this.#target.def);
    if (codec === undefined) return this.#decode(compressed, frame.subarray(FRAME_HEADER_LENGTH));
    this.messageCompressed = false;
    try {
      return codec.decodeFrame(frame);
    } catch {
      throw new GrpcError(Status.INTERNAL, 'failed to parse the request message');
    }
  }

  /** Whether the client has gone, without creating the request's signal where the transport can tell. */
  #clientGone(): boolean {
    const request = this.request;
    return request.aborted ?? request.signal.aborted;
  }

  #requestError(e: unknown): GrpcError {
    if (e instanceof GrpcError) return e;
    if (this.#cancelReason !== undefined) return this.#cancelReason;
    if (e instanceof RequestBodyTooLargeError) {
      return new GrpcError(
        Status.RESOURCE_EXHAUSTED,
        `the request stream exceeds the queue's limit of ${e.limit} bytes (limits.maxRequestBodyBytes)`,
      );
    }
    if (e instanceof QueueClosedError) return new GrpcError(Status.UNAVAILABLE, 'the server is shutting down');
    return new GrpcError(Status.CANCELLED, 'the request body ended abruptly');
  }

  #decode(compressed: boolean, payload: Uint8Array): unknown {
    this.messageCompressed = compressed;
    if (!compressed) return this.#deserialize(payload);
    if (this.requestEncoding === 'identity') {
      throw new GrpcError(Status.INTERNAL, 'received a compressed message but the request has no grpc-encoding');
    }
    const limit = Math.min(this.#config.maxDecompressed, this.#config.maxReceive);
    const out = decompress(this.requestEncoding, payload, limit);
    return out instanceof Promise ? out.then((b) => this.#deserialize(b)) : this.#deserialize(out);
  }

  #deserialize(bytes: Uint8Array): unknown {
    try {
      return this.#target.def.deserialize(bytes);
    } catch {
      throw new GrpcError(Status.INTERNAL, 'failed to parse the request message');
    }
  }

  // ---- response messages -------------------------------------------------

  /** Frame (and maybe compress) one response message. */
  #frame(message: unknown): Uint8Array | Promise<Uint8Array> {
    const enc = this.#responseEncoding;
    const codec = enc === 'identity' || !this.compressMessages ? framedCodecOf(this.#target.def) : undefined;
    let bytes: Uint8Array;
    try {
      bytes = codec !== undefined ? codec.encodeFrame(message) : this.#target.def.serialize(message);
    } catch (e) {
      this.#config.logger.error(`gRPC handler for ${this.method} returned a message that cannot be serialized`, e);
      throw new GrpcError(Status.INTERNAL, 'failed to serialize the response message');
    }
    const length = codec !== undefined ? bytes.byteLength - FRAME_HEADER_LENGTH : bytes.byteLength;
    if (length > this.#config.maxSend) {
      throw new GrpcError(Status.RESOURCE_EXHAUSTED, `sent message larger than max (${length} vs. ${this.#config.maxSend})`);
    }
    if (codec !== undefined) return bytes;
    if (enc === 'identity' || !this.compressMessages || length < this.#config.minCompressBytes) {
      return encodeFrame(bytes);
    }
    const packed = compress(enc, bytes);
    return packed instanceof Promise ? packed.then(encodeCompressedFrame) : encodeFrame(packed, true);
  }

  /**
   * Send the single response of a unary or client-streaming call and end with OK.
   * Returns a promise only when the message is compressed asynchronously.
   */
  sendUnary(message: unknown): Promise<void> | undefined {
    const frame = this.#frame(message);
    if (frame instanceof Promise) return frame.then((f) => this.#sendFrame(f));
    this.#sendFrame(frame);
    return undefined;
  }

  #sendFrame(frame: Uint8Array): void {
    if (this.#state === STATE_DONE) return;
    if (this.#clientGone()) {
      this.#onAbort();
      return;
    }
    if (this.#state === STATE_PENDING) {
      const trailers = this.#trailers === undefined || this.#trailers.isEmpty ? OK_TRAILERS : this.#statusRecord();
      this.#state = STATE_DONE;
      this.#respond({ status: 200, headers: this.#headerRecord(), body: frame, trailers });
      this.#ended();
      return;
    }
    this.#outbox!.push(frame);
    this.succeed();
  }

  /** Send one message of a streaming response. Resolves when more may be sent. */
  write(message: unknown): Promise<void> | undefined {
    if (this.#state === STATE_DONE) return undefined;
    const frame = this.#frame(message);
    if (frame instanceof Promise) return frame.then((f) => this.#push(f));
    return this.#push(frame);
  }

  #push(frame: Uint8Array): Promise<void> | undefined {
    if (this.#state === STATE_DONE) return undefined;
    if (this.#state === STATE_PENDING) this.#startStreaming();
    const outbox = this.#outbox!;
    return outbox.push(frame) ? undefined : outbox.drained();
  }

  /** Send every message the handler produces, then end with OK. */
  async pipe(source: AsyncIterable<unknown> | Iterable<unknown> | Promise<unknown>): Promise<void> {
    let src: unknown = source;
    if (src instanceof Promise) src = await src;
    if (src === null || typeof src !== 'object' || !(Symbol.asyncIterator in src || Symbol.iterator in src)) {
      throw new TypeError(`the streaming handler for ${this.method} did not return an iterable`);
    }
    for await (const message of src as AsyncIterable<unknown>) {
      if (this.#state === STATE_DONE) break;
      const wait = this.write(message);
      if (wait !== undefined) await wait;
    }
    this.succeed();
  }

  /**
   * `pipe` for a handler that returned an async iterator (the usual bidi call):
   * driven by promise callbacks instead of a suspended async function, so a
   * held call keeps less alive. Failures end the call; nothing is returned.
   */
  pump(source: unknown): void {
    const it =
      source !== null && typeof source === 'object' && Symbol.asyncIterator in source
        ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]()
        : undefined;
    if (it === undefined) {
      this.pipe(source as AsyncIterable<unknown>).catch((e: unknown) => this.fail(e));
      return;
    }
    new Pump(this, it).next();
  }

  /** Hand the response to the transport (once); the resolver is not kept for the rest of the call. */
  #respond(response: HandlerResult): void {
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.(response);
  }

  /** @internal The transport stopped pulling the response body before it ended. */
  outboxStopped(): void {
    this.cancel(new GrpcError(Status.CANCELLED, 'the client stopped reading the response'));
  }

  #startStreaming(): void {
    this.#state = STATE_STREAMING;
    this.#outbox = new Outbox(this.#config.highWater, this);
    const response: ServerResponse = {
      status: 200,
      headers: this.#headerRecord(),
      body: this.#outbox,
      trailers: () => this.#statusRecord(),
    };
    this.#respond(response);
  }

  // ---- ending ------------------------------------------------------------

  #finish(ending: Ending): void {
    const state = this.#state;
    this.#state = STATE_DONE;
    this.#ending = ending;
    if (state === STATE_PENDING) {
      // Trailers-Only: one header block carrying the status.
      const headers: HeaderRecord = { 'content-type': 'application/grpc' };
      this.#responseMetadata?.writeTo(headers);
      this.#writeStatus(headers);
      this.#respond({ status: 200, headers });
    } else {
      this.#outbox!.close();
    }
    this.#ended();
  }

  #ended(): void {
    this.#cancelListeners = undefined;
    const listener = this.#abortListener;
    if (listener !== undefined) {
      this.#abortListener = undefined;
      const follower = this.#abortFollower;
      if (follower !== undefined) {
        this.#abortFollower = undefined;
        this.request.offAbort?.(follower);
      } else this.request.signal.removeEventListener('abort', listener);
    }
    const timer = this.#timer;
    if (timer !== undefined) {
      this.#timer = undefined;
      if (typeof timer === 'function') timer();
      else clearTimeout(timer);
    }
    const outcome = this.#outcome;
    if (outcome?.settle !== undefined) {
      const settle = outcome.settle;
      outcome.settle = undefined;
      settle(this.#makeOutcome());
    }
    this.#config.onEnd(this);
  }

  #makeOutcome(): CallOutcome {
    const e = this.#ending ?? OK_ENDING;
    return e.thrown === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, error: e.thrown };
  }

  #headerRecord(): Readonly<HeaderRecord> {
    if (this.#responseEncoding === 'identity' && (this.#responseMetadata === undefined || this.#responseMetadata.isEmpty)) {
      return this.#config.plainHeaders;
    }
    const headers: HeaderRecord = {
      'content-type': 'application/grpc',
      'grpc-accept-encoding': this.#config.acceptHeader,
    };
    if (this.#responseEncoding !== 'identity') headers['grpc-encoding'] = this.#responseEncoding;
    this.#responseMetadata?.writeTo(headers);
    return headers;
  }

  #statusRecord(): HeaderRecord {
    const out: HeaderRecord = {};
    this.#writeStatus(out);
    return out;
  }

  #writeStatus(out: HeaderRecord): void {
    this.#trailers?.writeTo(out);
    const e = this.#ending ?? OK_ENDING;
    e.metadata?.writeTo(out);
    out['grpc-status'] = String(e.code);
    if (e.message) out['grpc-message'] = encodeGrpcMessage(e.message);
    if (e.details !== undefined) out['grpc-status-details-bin'] = encodeBinaryValue(e.details);
  }
}

const END: IteratorResult<unknown> = Object.freeze({ done: true, value: undefined });

function messageResult(value: unknown): IteratorResult<unknown> {
  return { done: false, value };
}

function endResult(reset: GrpcError | undefined): IteratorResult<unknown> {
  if (reset !== undefined) throw reset;
  return END;
}

/** Moves a handler's messages into the call one at a time, as `for await` in Call.pipe would. */
class Pump {
  readonly #call: Call;
  readonly #it: AsyncIterator<unknown>;
  readonly #onResult = (r: IteratorResult<unknown>): void => this.#result(r);
  readonly #onError = (e: unknown): void => this.#call.fail(e);
  // Only needed when a write has to wait for room: made on first use.
  #onNext: (() => void) | undefined;
  #onAbrupt: ((e: unknown) => void) | undefined;

  constructor(call: Call, it: AsyncIterator<unknown>) {
    this.#call = call;
    this.#it = it;
  }

  next(): void {
    let r: Promise<IteratorResult<unknown>>;
    try {
      r = this.#it.next();
    } catch (e) {
      this.#call.fail(e);
      return;
    }
    Promise.resolve(r).then(this.#onResult, this.#onError);
  }

  #result(r: IteratorResult<unknown>): void {
    const call = this.#call;
    if (r === null || typeof r !== 'object') {
      call.fail(new TypeError(`iterator result ${String(r)} is not an object`));
      return;
    }
    if (r.done === true) {
      call.succeed();
      return;
    }
    if (call.done) {
      // As a `for await` that breaks: the iterator is told to finish.
      this.#close().then(undefined, this.#onError);
      return;
    }
    let wait: Promise<void> | undefined;
    try {
      wait = call.write(r.value);
    } catch (e) {
      this.#abrupt(e);
      return;
    }
    if (wait === undefined) this.next();
    else wait.then((this.#onNext ??= () => this.next()), (this.#onAbrupt ??= (e) => this.#abrupt(e)));
  }

  /** The loop body failed: close the iterator (its own outcome is ignored), then end the call with the error. */
  #abrupt(error: unknown): void {
    const fail = (): void => this.#call.fail(error);
    let closing: Promise<unknown>;
    try {
      closing = this.#close();
    } catch {
      fail();
      return;
    }
    closing.then(fail, fail);
  }

  #close(): Promise<unknown> {
    const ret = this.#it.return;
    return ret === undefined ? Promise.resolve(undefined) : Promise.resolve(ret.call(this.#it));
  }
}

/**
 * The request messages of a streaming call as one hand-written iterator over
 * the body: frames are decoded as chunks arrive, with no generator chain
 * held per call.
 */
class RequestStream implements AsyncIterableIterator<unknown> {
  readonly #call: Call;
  readonly #body: AsyncIterator<Uint8Array>;
  readonly #maxLength: number;
  /** Made when a chunk ends inside a frame (or holds a bad one); chunks of whole frames need none. */
  #decoder: FrameDecoder | undefined;
  readonly #frames: Frame[] = [];
  #index = 0;
  #finished = false;

  constructor(call: Call, body: AsyncIterable<Uint8Array>, maxLength: number) {
    this.#call = call;
    this.#body = body[Symbol.asyncIterator]();
    this.#maxLength = maxLength;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  // Not an async function: a call waiting for the client's next message holds
  // one promise reaction here instead of a suspended frame.
  next(): Promise<IteratorResult<unknown>> {
    const call = this.#call;
    if (this.#finished || call.done) return Promise.resolve(END);
    if (this.#index < this.#frames.length) {
      const frame = this.#frames[this.#index++]!;
      if (this.#index === this.#frames.length) {
        this.#frames.length = 0;
        this.#index = 0;
      }
      let value: unknown;
      try {
        value = call.decodeFrame(frame);
      } catch (e) {
        this.#finished = true;
        return Promise.reject(call.requestFailed(e));
      }
      if (value instanceof Promise) return value.then(messageResult, this.#onFailed);
      return Promise.resolve({ done: false, value });
    }
    let chunk: Promise<IteratorResult<Uint8Array>>;
    try {
      chunk = this.#body.next();
    } catch (e) {
      return this.#onFailed(e);
    }
    return Promise.resolve(chunk).then(this.#onChunk, this.#onFailed);
  }

  readonly #onChunk = (r: IteratorResult<Uint8Array>): Promise<IteratorResult<unknown>> => {
    try {
      const decoder = this.#decoder;
      if (r.done) decoder?.end();
      else if ((decoder === undefined || decoder.idle) && splitWholeFrames(r.value, this.#maxLength, this.#frames)) {
        // every frame of the chunk is whole: no decoder state to keep
      } else {
        (this.#decoder ??= new FrameDecoder(this.#maxLength, (f) => this.#frames.push(f))).push(r.value);
      }
    } catch (e) {
      return this.#onFailed(e);
    }
    if (!r.done) return this.next();
    this.#finished = true;
    return this.#call.confirmEnd().then(endResult);
  };

  readonly #onFailed = (e: unknown): Promise<never> => {
    this.#finished = true;
    return Promise.reject(this.#call.requestFailed(e));
  };

  async return(): Promise<IteratorResult<unknown>> {
    if (!this.#finished) {
      this.#finished = true;
      await this.#body.return?.();
    }
    return END;
  }
}
