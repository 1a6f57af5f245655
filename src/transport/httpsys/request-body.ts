/**
 * A request body pulled on demand from Http.sys: first the bytes that came with
 * the request, then one HttpReceiveRequestEntityBody per pull.
 */
import { RequestBodyTooLargeError } from '../errors.js';
import { toHttpSysError } from './errors.js';

/** Bytes asked for per read. */
export const BODY_READ_SIZE = 64 * 1024;

export interface RequestBodySource {
  /** Bytes that arrived with the headers, or null. */
  readonly first: Uint8Array | null;
  /** More body follows the first bytes. */
  readonly more: boolean;
  /** Read the next piece; null at the end of the body. */
  read(maxBytes: number): Promise<Uint8Array | null>;
  /** Requests longer than this fail with RequestBodyTooLargeError. */
  readonly limit: number;
  /** Fires when the exchange is aborted; a pending pull rejects with its reason. */
  readonly signal: AbortSignal;
  /** Told when a read fails (the connection is usually gone). */
  onReadError(err: Error): void;
  /** Told when the body grew past the limit. */
  onTooLarge(err: RequestBodyTooLargeError): void;
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** The body as an async iterable that can be iterated once. */
export function requestBody(source: RequestBodySource): AsyncIterable<Uint8Array> {
  let used = false;
  return {
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      if (used) throw new Error('the request body can be read only once');
      used = true;
      let received = 0;
      let first = source.first && source.first.byteLength > 0 ? source.first : null;
      let done = !source.more && first === null;
      let failure: unknown;
      const account = (chunk: Uint8Array): void => {
        received += chunk.byteLength;
        if (received > source.limit) {
          const err = new RequestBodyTooLargeError(source.limit);
          failure = err;
          done = true;
          source.onTooLarge(err);
          throw err;
        }
      };
      return {
        async next(): Promise<IteratorResult<Uint8Array>> {
          if (failure !== undefined) throw failure;
          if (first !== null) {
            const chunk = first;
            first = null;
            if (!source.more) done = true;
            account(chunk);
            return { value: chunk, done: false };
          }
          if (done) return { value: undefined, done: true };
          if (source.signal.aborted) throw source.signal.reason;
          let chunk: Uint8Array | null;
          try {
            const want = Math.max(1, Math.min(BODY_READ_SIZE, source.limit - received + 1));
            chunk = await abortable(source.read(want), source.signal);
          } catch (e) {
            done = true;
            if (source.signal.aborted && e === source.signal.reason) {
              failure = e;
              throw e;
            }
            const err = toHttpSysError(e, 'reading the request body');
            failure = err;
            source.onReadError(err);
            throw err;
          }
          if (chunk === null) {
            done = true;
            return { value: undefined, done: true };
          }
          account(chunk);
          return { value: chunk, done: false };
        },
        async return(): Promise<IteratorResult<Uint8Array>> {
          done = true;
          return { value: undefined, done: true };
        },
      };
    },
  };
}
