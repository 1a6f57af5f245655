/**
 * Runs the calls that take or give a single message (unary, server streaming,
 * client streaming) as a chain of promise callbacks on one small object, with
 * no async function frames: the request body is read, the message decoded, the
 * handler called and its response sent, each step started by the previous one.
 * A request body that is one chunk holding one whole frame (the usual unary
 * request) is taken as it is; any other body goes through Call.readOneFrom.
 */
import type { Call } from './call.js';
import { isWholeFrame } from './framing.js';

export type CallHandler = (requestOrRequests: unknown, ctx: Call) => unknown;

/** Waiting for the first chunk of the request body. */
const READ_FIRST = 0;
/** One whole frame received; waiting for the body to end. */
const READ_END = 1;
/** Waiting for the request message (slow body path or asynchronous decompression). */
const READ_MESSAGE = 2;
/** Waiting for the handler's response. */
const AWAIT_RESPONSE = 3;
/** Waiting for an asynchronously compressed response to go out. */
const AWAIT_SEND = 4;

const KIND_UNARY = 0;
const KIND_SERVER_STREAM = 1;
const KIND_CLIENT_STREAM = 2;

function ignore(): void {}

/** What `await` would wait for: a decoded message may be a promise (decompression) or another thenable. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value instanceof Promise || (value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function');
}

class SingleMessageRunner {
  readonly #call: Call;
  readonly #handler: CallHandler;
  readonly #kind: number;
  #stage = READ_FIRST;
  #body: AsyncIterator<Uint8Array> | undefined;
  #first: Uint8Array | undefined;
  readonly #onValue = (value: unknown): void => this.#step(value);
  readonly #onError = (error: unknown): void => this.#failed(error);

  constructor(call: Call, handler: CallHandler, kind: number) {
    this.#call = call;
    this.#handler = handler;
    this.#kind = kind;
  }

  start(): void {
    if (this.#kind === KIND_CLIENT_STREAM) {
      let response: unknown;
      try {
        response = this.#handler(this.#call.readMany(), this.#call);
      } catch (e) {
        this.#call.fail(e);
        return;
      }
      this.#respond(response);
      return;
    }
    try {
      this.#body = this.#call.request.body[Symbol.asyncIterator]();
    } catch (e) {
      this.#call.requestFailed(e);
      return;
    }
    this.#read();
  }

  #read(): void {
    let next: Promise<IteratorResult<Uint8Array>>;
    try {
      next = this.#body!.next();
    } catch (e) {
      this.#call.requestFailed(e);
      return;
    }
    next.then(this.#onValue, this.#onError);
  }

  #failed(error: unknown): void {
    const call = this.#call;
    // Errors while reading the body become the status the body's fate implies.
    if (this.#stage <= READ_END) call.requestFailed(error);
    else call.fail(error);
  }

  #step(value: unknown): void {
    switch (this.#stage) {
      case READ_FIRST:
      case READ_END:
        this.#chunk(value as IteratorResult<Uint8Array>);
        return;
      case READ_MESSAGE:
        this.#message(value);
        return;
      case AWAIT_RESPONSE:
        this.#send(value);
        return;
      default:
      // AWAIT_SEND: sent.
    }
  }

  #chunk(r: IteratorResult<Uint8Array>): void {
    const call = this.#call;
    if (r.done) {
      if (call.done) return;
      const first = this.#first;
      if (first === undefined) {
        // An empty body: the slow path reports the missing message.
        this.#readSlowly([]);
        return;
      }
      let message: unknown;
      try {
        message = call.decodeWholeFrame(first);
      } catch (e) {
        call.fail(e);
        return;
      }
      this.#first = undefined;
      this.#stage = READ_MESSAGE;
      if (isThenable(message)) Promise.resolve(message).then(this.#onValue, this.#onError);
      else this.#message(message);
      return;
    }
    const body = this.#body!;
    if (call.done) {
      // As a `for await` loop that returns: the body is told to stop.
      try {
        const closing = body.return?.();
        if (closing !== undefined) closing.then(ignore, ignore);
      } catch {
        // the call has ended already
      }
      return;
    }
    const chunk = r.value;
    if (chunk.byteLength === 0) {
      // An empty chunk (a DATA frame that only ends the stream) changes nothing.
      this.#read();
      return;
    }
    if (this.#stage === READ_FIRST) {
      if (isWholeFrame(chunk, call.maxReceive)) {
        this.#first = chunk;
        this.#stage = READ_END;
        this.#read();
        return;
      }
      this.#readSlowly([chunk]);
      return;
    }
    // More than one chunk: the decoder reads them all (and counts the messages).
    const received = [this.#first!, chunk];
    this.#first = undefined;
    this.#readSlowly(received);
  }

  #readSlowly(received: readonly Uint8Array[]): void {
    this.#stage = READ_MESSAGE;
    this.#call.readOneFrom(this.#body!, received).then(this.#onValue, this.#onError);
  }

  #message(message: unknown): void {
    const call = this.#call;
    if (call.done) return;
    let result: unknown;
    try {
      result = this.#handler(message, call);
    } catch (e) {
      call.fail(e);
      return;
    }
    if (this.#kind === KIND_SERVER_STREAM) {
      // The messages are driven by callbacks once the handler has its request (Call.pump).
      try {
        call.pump(result);
      } catch (e) {
        call.fail(e);
      }
      return;
    }
    this.#respond(result);
  }

  #respond(response: unknown): void {
    if (response instanceof Promise) {
      this.#stage = AWAIT_RESPONSE;
      response.then(this.#onValue, this.#onError);
      return;
    }
    this.#send(response);
  }

  #send(response: unknown): void {
    const call = this.#call;
    if (call.done) return;
    let sent: Promise<void> | undefined;
    try {
      sent = call.sendUnary(response);
    } catch (e) {
      call.fail(e);
      return;
    }
    if (sent !== undefined) {
      this.#stage = AWAIT_SEND;
      sent.then(undefined, this.#onError);
    }
  }
}

/** Run a unary call: read its message, call the handler, send the response. Ends the call itself. */
export function runUnary(call: Call, handler: CallHandler): void {
  new SingleMessageRunner(call, handler, KIND_UNARY).start();
}

/** Run a server-streaming call: read its message, then stream what the handler produces. */
export function runServerStream(call: Call, handler: CallHandler): void {
  new SingleMessageRunner(call, handler, KIND_SERVER_STREAM).start();
}

/** Run a client-streaming call: the handler reads the request stream; its response is sent. */
export function runClientStream(call: Call, handler: CallHandler): void {
  new SingleMessageRunner(call, handler, KIND_CLIENT_STREAM).start();
}
