/** Request and response body helpers shared by both backends. */
import { RequestBodyTooLargeError } from './errors.js';
import type { BodySource, ServerRequest } from './types.js';

const encoder = new TextEncoder();
const DONE: IteratorResult<Uint8Array> = Object.freeze({ done: true, value: undefined });

/** A response body as an async iterator of byte chunks, pulled one at a time. */
export function bodyIterator(source: BodySource): AsyncIterator<Uint8Array> | undefined {
  if (source === undefined || source === null) return undefined;
  if (typeof source === 'string') return singleChunk(encoder.encode(source));
  if (source instanceof Uint8Array) return singleChunk(source);
  if (typeof (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
    return checkedChunks((source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]());
  }
  if (typeof (source as Iterable<Uint8Array>)[Symbol.iterator] === 'function') {
    return checkedChunks((source as Iterable<Uint8Array>)[Symbol.iterator]());
  }
  throw new TypeError('a response body must be bytes, a string, an iterable or an async iterable of Uint8Array');
}

/** Bytes known up front (so a Content-Length can be sent), or undefined for streamed bodies. */
export function fixedBodyLength(source: BodySource): number | undefined {
  if (source === undefined || source === null) return 0;
  if (typeof source === 'string') return Buffer.byteLength(source);
  if (source instanceof Uint8Array) return source.byteLength;
  return undefined;
}

/** A body of one chunk known up front. */
class SingleChunk implements AsyncIterator<Uint8Array> {
  private done: boolean;
  constructor(private readonly chunk: Uint8Array) {
    this.done = chunk.byteLength === 0;
  }
  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.done) return Promise.resolve({ done: true, value: undefined });
    this.done = true;
    return Promise.resolve({ done: false, value: this.chunk });
  }
  return(): Promise<IteratorResult<Uint8Array>> {
    this.done = true;
    return Promise.resolve({ done: true, value: undefined });
  }
}

function singleChunk(chunk: Uint8Array): AsyncIterator<Uint8Array> {
  return new SingleChunk(chunk);
}

function checkChunk(r: IteratorResult<unknown>): IteratorResult<Uint8Array> {
  if (r.done) return DONE;
  const v = r.value;
  if (v instanceof Uint8Array) return r as IteratorResult<Uint8Array>;
  if (typeof v === 'string') return { done: false, value: encoder.encode(v) };
  throw new TypeError('a response body chunk must be a Uint8Array or a string');
}

/** Checks every chunk a body iterator yields (a string is encoded). */
class CheckedChunks implements AsyncIterator<Uint8Array> {
  constructor(private readonly it: AsyncIterator<unknown> | Iterator<unknown>) {}
  next(): Promise<IteratorResult<Uint8Array>> {
    try {
      return Promise.resolve(this.it.next()).then(checkChunk);
    } catch (err) {
      return Promise.reject(err);
    }
  }
  async return(): Promise<IteratorResult<Uint8Array>> {
    if (this.it.return) await this.it.return();
    return DONE;
  }
}

function checkedChunks(it: AsyncIterator<unknown> | Iterator<unknown>): AsyncIterator<Uint8Array> {
  return new CheckedChunks(it);
}

/** Counts request body bytes and throws RequestBodyTooLargeError past the limit. */
class LimitedBody implements AsyncIterator<Uint8Array> {
  private seen = 0;
  constructor(private readonly inner: AsyncIterator<Uint8Array>, private readonly limit: number) {}

  async next(): Promise<IteratorResult<Uint8Array>> {
    const r = await this.inner.next();
    if (!r.done) {
      this.seen += r.value.byteLength;
      if (this.seen > this.limit) {
        if (this.inner.return) await this.inner.return().catch(() => undefined);
        throw new RequestBodyTooLargeError(this.limit);
      }
    }
    return r;
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    if (this.inner.return) await this.inner.return();
    return { done: true, value: undefined };
  }
}

/**
 * Wrap a request body so reading past `limit` bytes throws RequestBodyTooLargeError
 * (the queue answers 413 when that error escapes a handler).
 */
export function limitBody(body: AsyncIterable<Uint8Array>, limit: number): AsyncIterable<Uint8Array> {
  if (!Number.isFinite(limit)) return body;
  return {
    [Symbol.asyncIterator]: () => new LimitedBody(body[Symbol.asyncIterator](), limit),
  };
}

/** The limit `readBody()` applies when it is given none: 64 MiB. */
export const DEFAULT_READ_BODY_LIMIT = 64 * 1024 * 1024;

/**
 * Read a whole request body into memory. Throws RequestBodyTooLargeError past
 * `limit` bytes (default 64 MiB, on top of the queue's own limit; pass
 * `Infinity` to rely on the queue's limit alone).
 */
export async function readBody(request: Pick<ServerRequest, 'body'>, limit = DEFAULT_READ_BODY_LIMIT): Promise<Uint8Array> {
  if (!(limit >= 0)) throw new RangeError('readBody() needs a limit >= 0');
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of request.body) {
    total += chunk.byteLength;
    if (total > limit) throw new RequestBodyTooLargeError(limit);
    chunks.push(chunk);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
