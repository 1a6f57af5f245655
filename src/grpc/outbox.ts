/**
 * The response body of a streaming call: framed messages queue here and the
 * transport pulls them. Whatever has queued while the transport was busy goes
 * out as one chunk, so many small messages cost one write.
 */
import { pendingPromise, takeResolver } from './resolvable.js';

const DONE: IteratorResult<Uint8Array> = Object.freeze({ done: true, value: undefined });

/** Told when the transport stops pulling before the body was closed. */
export interface OutboxOwner {
  outboxStopped(): void;
}

export class Outbox implements AsyncIterableIterator<Uint8Array> {
  readonly #highWater: number;
  readonly #owner: OutboxOwner;
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #closed = false;
  #stopped = false;
  #reader: ((r: IteratorResult<Uint8Array>) => void) | undefined;
  #drain: (() => void) | undefined;

  /** `owner.outboxStopped()` runs when the transport stops pulling before the body was closed. */
  constructor(highWater: number, owner: OutboxOwner) {
    this.#highWater = highWater;
    this.#owner = owner;
  }

  /** Queue a chunk. False when the queue is over its high-water mark: wait on `drained()`. */
  push(chunk: Uint8Array): boolean {
    if (this.#closed || this.#stopped) return true;
    const reader = this.#reader;
    if (reader !== undefined) {
      this.#reader = undefined;
      reader({ done: false, value: chunk });
      return true;
    }
    this.#chunks.push(chunk);
    this.#bytes += chunk.byteLength;
    return this.#bytes < this.#highWater;
  }

  /** Resolves once the transport has taken the queued chunks (or stopped). */
  drained(): Promise<void> {
    if (this.#bytes < this.#highWater || this.#stopped || this.#closed) return Promise.resolve();
    const promise = pendingPromise<void>();
    this.#drain = takeResolver<void>();
    return promise;
  }

  /** No more chunks: the body ends after the queued ones. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // A producer waiting for room must not wait forever once the call has ended.
    const drain = this.#drain;
    this.#drain = undefined;
    drain?.();
    const reader = this.#reader;
    if (reader !== undefined && this.#chunks.length === 0) {
      this.#reader = undefined;
      reader(DONE);
    }
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    const n = this.#chunks.length;
    if (n > 0) {
      const value = n === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#bytes);
      this.#chunks = [];
      this.#bytes = 0;
      const drain = this.#drain;
      if (drain !== undefined) {
        this.#drain = undefined;
        drain();
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.#closed || this.#stopped) return Promise.resolve(DONE);
    const promise = pendingPromise<IteratorResult<Uint8Array>>();
    this.#reader = takeResolver<IteratorResult<Uint8Array>>();
    return promise;
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    this.#stop();
    return Promise.resolve(DONE);
  }

  throw(): Promise<IteratorResult<Uint8Array>> {
    this.#stop();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#chunks = [];
    this.#bytes = 0;
    const drain = this.#drain;
    this.#drain = undefined;
    drain?.();
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.(DONE);
    if (!this.#closed) this.#owner.outboxStopped();
  }
}
