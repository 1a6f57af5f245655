/**
 * A request body as a pull-based async iterable over a Node Readable
 * (IncomingMessage or Http2Stream). The stream stays paused until the
 * consumer asks for the next chunk, so the kernel and HTTP/2 flow control
 * hold back the client when the handler reads slowly. Stopping early does
 * not destroy the stream (the response may still be written on it).
 */
import type { Readable } from 'node:stream';

export interface PullBody extends AsyncIterable<Uint8Array> {
  /** True once the whole body has been read. */
  readonly complete: boolean;
  /** True once a consumer started reading. */
  readonly started: boolean;
  /** Make pending and future reads fail with `error` (client gone, reset, shutdown). */
  fail(error: Error): void;
}

export function pullBody(stream: Readable): PullBody {
  let error: Error | undefined;
  let ended = false;
  let started = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onError = (err: Error): void => {
    error ??= err;
    notify();
  };
  let listening = false;
  const listen = (): void => {
    if (listening) return;
    listening = true;
    stream.on('readable', notify);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', notify);
  };
  const unlisten = (): void => {
    if (!listening) return;
    listening = false;
    stream.off('readable', notify);
    stream.off('end', onEnd);
    stream.off('error', onError);
    stream.off('close', notify);
  };

  const iterator: AsyncIterator<Uint8Array> = {
    async next(): Promise<IteratorResult<Uint8Array>> {
      listen();
      for (;;) {
        if (error) {
          unlisten();
          throw error;
        }
        const chunk = stream.destroyed ? null : (stream.read() as Uint8Array | null);
        if (chunk !== null) return { done: false, value: chunk };
        if (ended || stream.readableEnded) {
          ended = true;
          unlisten();
          return { done: true, value: undefined };
        }
        if (stream.destroyed) {
          error ??= new Error('the request body ended early: the stream closed');
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
    async return(): Promise<IteratorResult<Uint8Array>> {
      unlisten();
      return { done: true, value: undefined };
    },
  };

  return {
    get complete() {
      return ended;
    },
    get started() {
      return started;
    },
    fail(err: Error) {
      if (ended) return;
      error ??= err;
      notify();
    },
    [Symbol.asyncIterator]() {
      if (started) throw new TypeError('the request body can be read only once');
      started = true;
      return iterator;
    },
  };
}
