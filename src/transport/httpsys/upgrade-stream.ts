/**
 * The raw byte stream of an opaque (101) upgrade: reads are
 * HttpReceiveRequestEntityBody, writes are HttpSendResponseEntityBody with
 * MORE_DATA, and the final write carries DISCONNECT.
 */
import { Duplex } from 'node:stream';
import { ClientDisconnectedError } from '../errors.js';
import { toHttpSysError } from './errors.js';
import type { ExchangeIo } from './exchange-io.js';
import { BODY_READ_SIZE } from './request-body.js';

/** Runs an addon call so that a synchronous throw (e.g. the handle is closing) becomes a rejection. */
function attempt<T>(call: () => Promise<T>): Promise<T> {
  try {
    return call();
  } catch (err) {
    return Promise.reject(err);
  }
}

export function openUpgradedStream(io: ExchangeIo): Duplex {
  const { queue, id } = io;
  let reading = false;
  let closedByUs = false;
  let settled = false;
  const settle = (): void => {
    if (settled) return;
    settled = true;
    io.settled();
  };

  const stream = new Duplex({
    allowHalfOpen: true,
    read(): void {
      if (reading) return;
      reading = true;
      attempt(() => queue.readBody(id, BODY_READ_SIZE)).then(
        (chunk) => {
          reading = false;
          // A zero-length read also means the peer closed its side.
          if (chunk === null || chunk.byteLength === 0) this.push(null);
          else this.push(chunk);
        },
        (err: unknown) => {
          reading = false;
          if (closedByUs) {
            this.push(null);
            return;
          }
          const e = toHttpSysError(err, 'reading from the upgraded connection');
          io.failed(e);
          this.destroy(Object.assign(new ClientDisconnectedError('the upgraded connection was closed by the client'), { cause: e }));
        },
      );
    },
    write(chunk: Buffer, _encoding, callback): void {
      attempt(() => queue.sendBody(id, { body: [chunk], moreData: true })).then(
        () => callback(),
        (err: unknown) => {
          const e = toHttpSysError(err, 'writing to the upgraded connection');
          io.failed(e);
          callback(e);
        },
      );
    },
    writev(chunks, callback): void {
      attempt(() => queue.sendBody(id, { body: chunks.map((c) => c.chunk as Buffer), moreData: true })).then(
        () => callback(),
        (err: unknown) => {
          const e = toHttpSysError(err, 'writing to the upgraded connection');
          io.failed(e);
          callback(e);
        },
      );
    },
    final(callback): void {
      closedByUs = true;
      attempt(() => queue.sendBody(id, { moreData: false, disconnect: true })).then(
        () => {
          settle();
          callback();
        },
        (err: unknown) => {
          settle();
          callback(toHttpSysError(err, 'closing the upgraded connection'));
        },
      );
    },
    destroy(err, callback): void {
      if (!closedByUs && !io.queueClosing()) {
        closedByUs = true;
        // Close the connection: cancel where possible, else a final DISCONNECT send.
        let cancelled = false;
        if (io.host.cancel) {
          try {
            queue.cancel(id);
            cancelled = true;
          } catch {
            cancelled = false;
          }
        }
        if (!cancelled) attempt(() => queue.sendBody(id, { moreData: false, disconnect: true })).catch(() => undefined);
      }
      settle();
      callback(err);
    },
  });
  return stream;
}
