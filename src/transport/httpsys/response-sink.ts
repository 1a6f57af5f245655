/**
 * Writes one response through Http.sys. Where the host can stream bodies
 * (HttpSendResponseEntityBody), the head goes out with MORE_DATA and the body
 * follows in pieces with a bounded number of sends in flight; trailers ride on
 * the final send, so every earlier send keeps MORE_DATA. Where it cannot (Wine 8),
 * the whole response is buffered and sent in one HttpSendHttpResponse.
 */
import type { Duplex } from 'node:stream';
import type { NativeResponse } from '../../native/types.js';
import type { RawHeaders, ResponseSink } from '../types.js';
import { isConnectionGone, ResponseTooLargeError, toHttpSysError } from './errors.js';
import type { ExchangeIo } from './exchange-io.js';
import {
  chunkFrame,
  flattenTrailers,
  lastChunk,
  prepareResponseHeaders,
  validateHeader,
  type PreparedHeaders,
} from './response-headers.js';
import { openUpgradedStream } from './upgrade-stream.js';

/** Default for ExchangeIo.bufferLimit: responses up to 64 MiB are buffered where bodies cannot be streamed. */
export const DEFAULT_BUFFERED_RESPONSE_LIMIT = 64 * 1024 * 1024;
/**
 * The buffered limit under Wine 8. Its http.sys writes a whole response with one
 * non-blocking send() and drops what the socket did not take, so only responses
 * that fit a socket send buffer arrive whole (3 MiB did, 5 MiB was cut at 3.9 MB
 * on a Linux loopback). Larger responses are refused with 500 rather than cut.
 */
export const WINE_BUFFERED_RESPONSE_LIMIT = 2 * 1024 * 1024;
/** Default for ExchangeIo.maxSendsInFlight. */
export const DEFAULT_SENDS_IN_FLIGHT = 4;

type State = 'idle' | 'open' | 'done';

abstract class SinkBase implements ResponseSink {
  protected state: State = 'idle';
  protected failure: Error | undefined;

  constructor(protected readonly io: ExchangeIo) {}

  abstract head(status: number, reason: string | undefined, headers: RawHeaders, end: boolean): Promise<void>;
  abstract write(chunk: Uint8Array): Promise<void> | void;
  abstract end(trailers: RawHeaders | undefined): Promise<void>;

  protected fail(err: unknown, doing: string): Error {
    const e = toHttpSysError(err, doing);
    if (this.failure === undefined) {
      this.failure = e;
      this.io.failed(e);
    }
    return e;
  }

  protected finish(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.io.settled();
  }

  protected throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.state === 'done') throw new Error('the response has already ended');
  }

  /** Validates the headers and decides the framing for this exchange's request. */
  protected prepare(headers: RawHeaders, status: number, mode: 'stream' | 'whole', length: number): PreparedHeaders {
    return prepareResponseHeaders(headers, {
      method: this.io.method,
      httpVersion: this.io.httpVersion,
      http2: this.io.http2,
      status,
      mode,
      length,
    });
  }

  /** The trailers as the addon's flat list, or undefined where there are none or this exchange cannot send them. */
  protected trailerList(trailers: RawHeaders | undefined): string[] | undefined {
    return trailers && trailers.length > 0 && this.io.capabilities.trailers ? flattenTrailers(trailers) : undefined;
  }

  /** Sends a minimal error response when nothing has gone out yet, so the request never hangs. */
  protected async sendFallback(status: number, message: string): Promise<void> {
    const body = new TextEncoder().encode(message);
    try {
      await this.io.queue.sendResponse(this.io.id, {
        status,
        headers: ['content-type', 'text/plain; charset=utf-8', 'content-length', String(body.byteLength), 'connection', 'close'],
        body: [body],
        disconnect: true,
      });
    } catch (err) {
      this.fail(err, `sending ${status}`);
    }
  }

  /** Ends the exchange abruptly: RST_STREAM where the host can, else cancel, else the best this host offers. */
  reset(code: number): void {
    if (this.state === 'done') return;
    const headSent = this.headOnWire();
    this.finish();
    this.io.resetting(code);
    this.endAbruptly(headSent, code);
  }

  /**
   * The exchange was aborted (client gone, queue closing) before its response
   * ended: release the request in Http.sys so neither it nor the client hangs.
   */
  abandon(): void {
    if (this.state === 'done') return;
    const headSent = this.headOnWire();
    this.finish();
    this.endAbruptly(headSent, undefined);
  }

  private endAbruptly(headSent: boolean, code: number | undefined): void {
    const { queue, id, host, logger } = this.io;
    // Closing the queue handle cancels whatever is left.
    if (this.io.queueClosing()) return;
    // The final send already went out: Http.sys has nothing left to cancel.
    if (this.completeOnWire()) return;
    // A send already failed because the connection is gone: there is nothing left to cancel.
    if (this.failure !== undefined && isConnectionGone(this.failure)) return;
    // HttpSetRequestProperty(StreamError) means something only on HTTP/2; on HTTP/1.x cancelling drops the connection.
    if (code !== undefined && host.reset && this.io.http2) {
      try {
        queue.reset(id, code);
        return;
      } catch (err) {
        if (!host.cancel) logger.warn('Http.sys: resetting the stream failed', toHttpSysError(err));
      }
    }
    if (host.cancel) {
      try {
        queue.cancel(id);
        return;
      } catch (err) {
        if (!isConnectionGone(err)) logger.warn('Http.sys: cancelling the request failed', toHttpSysError(err));
      }
    }
    // No way to abort a request on this host: finish it so it does not hang.
    try {
      let done: Promise<void> | undefined;
      if (!headSent) {
        done = queue.sendResponse(id, {
          status: code === undefined ? 503 : 500,
          headers: ['content-length', '0', 'connection', 'close'],
          disconnect: true,
        });
      } else if (host.streamingResponses) {
        done = queue.sendBody(id, { moreData: false, disconnect: true });
      }
      done?.catch(() => undefined);
    } catch (err) {
      logger.warn('Http.sys: ending an abandoned request failed', toHttpSysError(err));
    }
  }

  /** True when response bytes have reached Http.sys (so a new response can no longer be started). */
  protected abstract headOnWire(): boolean;

  /** True when the final send has already gone out, though end() has not been called yet. */
  protected completeOnWire(): boolean {
    return false;
  }

  async upgrade(headers: RawHeaders): Promise<Duplex> {
    this.throwIfFailed();
    if (this.state !== 'idle') throw new Error('the response has already started');
    if (!this.io.capabilities.upgrade) {
      throw new Error('this exchange cannot be upgraded on this host (needs HTTP/1.1 without a body and opaque upgrade support)');
    }
    const flat: string[] = [];
    let hasConnection = false;
    for (const [rawName, rawValue] of headers) {
      const name = rawName.toLowerCase();
      if (name.startsWith(':') || name === 'content-length' || name === 'transfer-encoding') continue;
      const value = String(rawValue);
      // Refused here, before anything is sent, so the handler's caller can still answer with an error.
      validateHeader(name, value);
      if (name === 'connection') hasConnection = true;
      flat.push(name, value);
    }
    if (!hasConnection) flat.push('connection', 'Upgrade');
    this.state = 'open';
    try {
      await this.io.queue.sendResponse(this.io.id, { status: 101, headers: flat, opaque: true, moreData: true });
    } catch (err) {
      // Failing first lets the abort cancel the request: Http.sys still holds it unanswered
      // unless the connection is gone.
      const e = this.fail(err, 'sending 101 Switching Protocols');
      this.finish();
      throw e;
    }
    this.state = 'done';
    const stream = openUpgradedStream(this.io);
    this.io.upgraded(stream);
    return stream;
  }
}

/** Streams the body with MORE_DATA sends, at most io.maxSendsInFlight at once. */
export class StreamingSink extends SinkBase {
  private inFlight: Promise<void>[] = [];
  private bodyAllowed = true;
  private chunked = false;
  private closeAfter = false;
  /** The head went out as the final send (a response that cannot have a body on HTTP/1.x). */
  private headFinal = false;

  protected headOnWire(): boolean {
    return this.state !== 'idle';
  }

  protected override completeOnWire(): boolean {
    return this.headFinal;
  }

  async head(status: number, reason: string | undefined, headers: RawHeaders, end: boolean): Promise<void> {
    this.throwIfFailed();
    if (this.state !== 'idle') throw new Error('the response head has already been sent');
    const prepared = this.prepare(headers, status, end ? 'whole' : 'stream', 0);
    this.bodyAllowed = prepared.bodyAllowed;
    this.chunked = prepared.chunked;
    this.closeAfter = prepared.closeAfter;
    // HEAD, 204 and 304 on HTTP/1.x have no body and no trailers: the head is the whole response and
    // goes out final, rather than as a MORE_DATA response with no framing that Http.sys must end later.
    const final = end || (!prepared.bodyAllowed && !this.io.http2);
    this.state = 'open';
    const response: NativeResponse = {
      status,
      ...(reason !== undefined && !this.io.http2 ? { reason } : {}),
      headers: prepared.flat,
      moreData: !final,
    };
    try {
      await this.io.queue.sendResponse(this.io.id, response);
    } catch (err) {
      // Failing first lets the abort cancel the request: Http.sys still holds it unanswered
      // unless the connection is gone.
      const e = this.fail(err, 'sending the response head');
      this.finish();
      throw e;
    }
    if (end) this.finish();
    else if (final) this.headFinal = true;
  }

  /**
   * A whole response in one HttpSendHttpResponse without MORE_DATA: the body as one memory chunk and
   * the trailers (HTTP/2) as the trailers chunk of that same, final send.
   */
  async respond(
    status: number,
    reason: string | undefined,
    headers: RawHeaders,
    body: Uint8Array,
    trailers: RawHeaders | undefined,
  ): Promise<void> {
    this.throwIfFailed();
    if (this.state !== 'idle') throw new Error('the response head has already been sent');
    const prepared = this.prepare(headers, status, 'whole', body.byteLength);
    const flatTrailers = this.trailerList(trailers);
    this.state = 'open';
    try {
      await this.io.queue.sendResponse(this.io.id, {
        status,
        ...(reason !== undefined && !this.io.http2 ? { reason } : {}),
        headers: prepared.flat,
        ...(prepared.bodyAllowed && body.byteLength > 0 ? { body: [body] } : {}),
        ...(flatTrailers ? { trailers: flatTrailers } : {}),
      });
    } catch (err) {
      throw this.fail(err, 'sending the response');
    } finally {
      this.finish();
    }
  }

  private send(body: Uint8Array[]): void {
    let sending: Promise<void>;
    try {
      sending = this.io.queue.sendBody(this.io.id, { body, moreData: true });
    } catch (err) {
      // Refused before reaching Http.sys (e.g. the queue handle is closing): the same as a failed send.
      this.fail(err, 'sending the response body');
      return;
    }
    const p: Promise<void> = sending.then(
      () => {
        const i = this.inFlight.indexOf(p);
        if (i >= 0) this.inFlight.splice(i, 1);
      },
      (err: unknown) => {
        const i = this.inFlight.indexOf(p);
        if (i >= 0) this.inFlight.splice(i, 1);
        this.fail(err, 'sending the response body');
      },
    );
    this.inFlight.push(p);
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.throwIfFailed();
    if (this.state !== 'open') throw new Error('write before the response head');
    if (!this.bodyAllowed || chunk.byteLength === 0) return;
    this.send(this.chunked ? chunkFrame(chunk) : [chunk]);
    while (this.inFlight.length >= this.io.maxSendsInFlight) await this.inFlight[0];
    this.throwIfFailed();
  }

  async end(trailers: RawHeaders | undefined): Promise<void> {
    this.throwIfFailed();
    if (this.state !== 'open') throw new Error('end before the response head');
    if (this.headFinal) {
      this.finish();
      return;
    }
    while (this.inFlight.length > 0) await this.inFlight[0];
    this.throwIfFailed();
    try {
      // Inside the try: trailers that cannot be sent end the exchange rather than leave it open.
      const flatTrailers = this.trailerList(trailers);
      await this.io.queue.sendBody(this.io.id, {
        ...(this.chunked && this.bodyAllowed ? { body: [lastChunk()] } : {}),
        ...(flatTrailers ? { trailers: flatTrailers } : {}),
        moreData: false,
        ...(this.closeAfter ? { disconnect: true } : {}),
      });
    } catch (err) {
      throw this.fail(err, 'finishing the response');
    } finally {
      this.finish();
    }
  }
}

/** Collects the whole response and sends it in one HttpSendHttpResponse, up to io.bufferLimit bytes. */
export class BufferedSink extends SinkBase {
  private status = 200;
  private reason: string | undefined;
  private headers: RawHeaders = [];
  private chunks: Uint8Array[] = [];
  private length = 0;
  private bodyAllowed = true;
  private sent = false;

  protected headOnWire(): boolean {
    return this.sent;
  }

  async head(status: number, reason: string | undefined, headers: RawHeaders, end: boolean): Promise<void> {
    this.throwIfFailed();
    if (this.state !== 'idle') throw new Error('the response head has already been sent');
    // Validate now so a bad header fails where the handler can still see it.
    this.prepare(headers, status, 'whole', 0);
    this.status = status;
    this.reason = reason;
    this.headers = headers;
    this.bodyAllowed = this.io.method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304;
    this.state = 'open';
    if (end) await this.sendAll(undefined);
  }

  write(chunk: Uint8Array): void {
    this.throwIfFailed();
    if (this.state !== 'open') throw new Error('write before the response head');
    if (!this.bodyAllowed || chunk.byteLength === 0) return;
    this.length += chunk.byteLength;
    if (this.length > this.io.bufferLimit) {
      const err = new ResponseTooLargeError(this.io.bufferLimit);
      this.chunks = [];
      this.failure = err;
      this.io.logger.error(`Http.sys: ${err.message}; answered 500 instead`);
      this.finish();
      this.sent = true;
      void this.sendFallback(500, 'response too large for this host\n');
      throw err;
    }
    this.chunks.push(chunk);
  }

  async end(trailers: RawHeaders | undefined): Promise<void> {
    this.throwIfFailed();
    if (this.state !== 'open') throw new Error('end before the response head');
    await this.sendAll(trailers);
  }

  private async sendAll(trailers: RawHeaders | undefined): Promise<void> {
    const prepared = this.prepare(this.headers, this.status, 'whole', this.length);
    const flatTrailers = this.trailerList(trailers);
    const body = this.chunks;
    this.chunks = [];
    this.sent = true;
    try {
      await this.io.queue.sendResponse(this.io.id, {
        status: this.status,
        ...(this.reason !== undefined && !this.io.http2 ? { reason: this.reason } : {}),
        headers: prepared.flat,
        ...(body.length > 0 ? { body } : {}),
        ...(flatTrailers ? { trailers: flatTrailers } : {}),
      });
    } catch (err) {
      throw this.fail(err, 'sending the response');
    } finally {
      this.finish();
    }
  }
}

/** The sink that fits this exchange's host. */
export function createResponseSink(io: ExchangeIo): ResponseSink & { abandon(): void } {
  return io.capabilities.streaming ? new StreamingSink(io) : new BufferedSink(io);
}
