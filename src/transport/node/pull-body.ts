/**
 * A request body as a pull-based async iterable over a Node Readable (an
 * HTTP/1.x IncomingMessage). The stream stays paused until the consumer asks
 * for the next chunk, so TCP flow control holds back the client when the
 * handler reads slowly. Stopping early does
 * not destroy the stream (the response may still be written on it).
 */
import type { Readable } from 'node:stream';

type ReadableWithState = Readable & { _readableState?: { ended?: boolean } };

const BODY = Symbol('body');
type Tagged = Readable & { [BODY]?: PullBody };

// One listener function for every body (no closure per request): `this` is the stream.
function wakeBody(this: Tagged): void {
  this[BODY]?.notify();
}

const DONE: IteratorResult<Uint8Array> = Object.freeze({ done: true, value: undefined });


/**
 * One object is the iterable, its iterator and its event listener, so a held
 * request body costs no closures. Listeners are added only while a read waits.
 */
export class PullBody implements AsyncIterable<Uint8Array>, AsyncIterator<Uint8Array> {
  private error: Error | undefined = undefined;
  private ended = false;
  private begun = false;
  private resolveWait: ((r: IteratorResult<Uint8Array>) => void) | undefined = undefined;
  private rejectWait: ((err: unknown) => void) | undefined = undefined;
  private listening = false;

  constructor(private readonly stream: Readable) {}

  /** True once the whole body has been read. */
  get complete(): boolean {
    return this.ended;
  }

  /** True once a consumer started reading. */
  get started(): boolean {
    return this.begun;
  }

  /** Make pending and future reads fail with `error` (client gone, reset, shutdown). */
  fail(error: Error): void {
    if (this.ended) return;
    this.error ??= error;
    this.notify();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.begun) throw new TypeError('the request body can be read only once');
    this.begun = true;
    return this;
  }

  /** @internal Settle a waiting read if the stream has something to say (a stream event, or fail()). */
  notify(): void {
    const resolve = this.resolveWait;
    const reject = this.rejectWait;
    if (resolve === undefined || reject === undefined) return;
    let r: IteratorResult<Uint8Array> | undefined;
    let failure: unknown;
    let failed = false;
    try {
      r = this.poll();
    } catch (err) {
      failed = true;
      failure = err;
    }
    // stream.read() inside poll() can emit events synchronously, and a nested notify()
    // may already have settled this wait: settle it only once.
    if (this.resolveWait !== resolve) return;
    if (failed) {
      this.resolveWait = this.rejectWait = undefined;
      reject(failure);
      return;
    }
    if (r === undefined) return;
    this.resolveWait = this.rejectWait = undefined;
    resolve(r);
  }

  // Listeners stay on once the body ended or failed (the stream is done with); only
  // return() takes them off, so a stream whose body is left unread can be drained.
  private listen(): void {
    if (this.listening) return;
    this.listening = true;
    const s = this.stream as Tagged;
    s[BODY] = this;
    // 'readable' also fires when the end arrives; 'close' follows every error.
    s.on('readable', wakeBody);
    s.on('close', wakeBody);
  }

  private unlisten(): void {
    if (!this.listening) return;
    this.listening = false;
    const s = this.stream;
    s.off('readable', wakeBody);
    s.off('close', wakeBody);
  }

  /** The next chunk, the end, or an error; undefined when the caller must wait. */
  private poll(): IteratorResult<Uint8Array> | undefined {
    const stream = this.stream;
    if (this.error) throw this.error;
    const chunk = stream.destroyed ? null : (stream.read() as Uint8Array | null);
    if (chunk !== null) return { done: false, value: chunk };
    // Nothing buffered and the end already received: 'end' follows on a later tick, no need to wait for it.
    if (stream.readableEnded || (!stream.destroyed && stream.readableLength === 0 && (stream as ReadableWithState)._readableState?.ended === true)) {
      this.ended = true;
      return DONE;
    }
    const errored = stream.errored;
    if (errored || stream.destroyed) {
      this.error ??= errored instanceof Error ? errored : new Error('the request body ended early: the stream closed');
      throw this.error;
    }
    return undefined;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    try {
      const r = this.poll();
      if (r !== undefined) return Promise.resolve(r);
    } catch (err) {
      return Promise.reject(err);
    }
    // Wait without an async frame: a held stream keeps only this promise and its two functions.
    this.listen();
    return new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
      this.resolveWait = resolve;
      this.rejectWait = reject;
    });
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    this.unlisten();
    return Promise.resolve(DONE);
  }
}

/** The body of `stream`, pulled on demand. */
export function pullBody(stream: Readable): PullBody {
  return new PullBody(stream);
}
