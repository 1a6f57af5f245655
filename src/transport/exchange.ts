/**
 * The shared exchange runner: it calls a queue's handlers for one received
 * request and drives the result into the backend's ResponseSink. Both
 * backends go through here, so status codes, header rules, body pulling,
 * trailers, resets, upgrades and error handling behave the same everywhere.
 */
import type { Duplex } from 'node:stream';
import { bodyIterator, fixedBodyLength, limitBody } from './body.js';
import { ExchangeAbortedError, HttpError } from './errors.js';
import { headerValue, normaliseOutgoingHeaders } from './headers.js';
import {
  Http2ErrorCode,
  StreamResetError,
  type BackendExchange,
  type Handler,
  type HandlerResult,
  type Logger,
  type RawHeaders,
  type ResetResponse,
  type ResponseSink,
  type ServerRequest,
  type ServerResponse,
  type UpgradeResponse,
} from './types.js';

export interface ExchangeContext {
  readonly handlers: readonly Handler[];
  readonly logger: Logger;
  /** Request bodies longer than this are refused with 413. */
  readonly maxRequestBodyBytes: number;
  /** Report a dropped feature once per queue (keyed by `key`). */
  warnOnce(key: string, message: string): void;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  404: 'Not Found',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A short plain-text answer, e.g. 404 or 500. Nothing from the error itself reaches the client. */
export function plainResponse(status: number, text?: string, close = false): ServerResponse {
  const body = `${text ?? STATUS_TEXT[status] ?? 'Error'}\n`;
  const headers: [string, string][] = [['content-type', 'text/plain; charset=utf-8']];
  if (close) headers.push(['connection', 'close']);
  return { status, headers, body };
}

function isReset(r: NonNullable<HandlerResult>): r is ResetResponse {
  return typeof (r as ResetResponse).reset === 'number';
}
function isUpgrade(r: NonNullable<HandlerResult>): r is UpgradeResponse {
  return typeof (r as UpgradeResponse).upgrade === 'function';
}

/** Guards the sink so the runner never calls it out of order or after the exchange ended. */
class SinkDriver {
  headSent = false;
  finished = false;
  constructor(readonly sink: ResponseSink, readonly signal: AbortSignal) {}

  private check(): void {
    if (this.signal.aborted) throw this.signal.reason instanceof Error ? this.signal.reason : new ExchangeAbortedError('exchange aborted');
    if (this.finished) throw new ExchangeAbortedError('exchange already finished');
  }
  async head(status: number, reason: string | undefined, headers: RawHeaders, end: boolean, trailers: boolean): Promise<void> {
    this.check();
    this.headSent = true;
    if (end) this.finished = true;
    await this.sink.head(status, reason, headers, end, trailers);
  }
  async write(chunk: Uint8Array): Promise<void> {
    this.check();
    await this.sink.write(chunk);
  }
  async end(trailers: RawHeaders | undefined): Promise<void> {
    this.check();
    this.finished = true;
    await this.sink.end(trailers);
  }
  reset(code: number): void {
    if (this.finished || this.signal.aborted) return;
    this.finished = true;
    this.headSent = true;
    this.sink.reset(code);
  }
  async upgrade(headers: RawHeaders): Promise<Duplex> {
    this.check();
    this.headSent = true;
    this.finished = true;
    return this.sink.upgrade(headers);
  }
}

/**
 * Run one exchange to its end. Resolves when the response is complete, the
 * stream was reset, an upgraded stream closed, or the exchange was aborted
 * (whatever the handler is still doing then). Never rejects.
 */
export function runExchange(exchange: BackendExchange, ctx: ExchangeContext): Promise<void> {
  const signal = exchange.request.signal;
  const driver = new SinkDriver(exchange.response, signal);
  const work = drive(exchange, driver, ctx).catch((err: unknown) => {
    // Only reachable through a backend fault: report it and drop the stream.
    if (!signal.aborted) ctx.logger.error('exchange failed inside the transport', err);
    driver.reset(Http2ErrorCode.INTERNAL_ERROR);
  });
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const onAbort = (): void => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    void work.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

function describe(request: ServerRequest): string {
  const path = request.path.length > 200 ? `${request.path.slice(0, 200)}...` : request.path;
  return `${request.method} ${path}`;
}

async function drive(exchange: BackendExchange, driver: SinkDriver, ctx: ExchangeContext): Promise<void> {
  const original = exchange.request;
  const limit = ctx.maxRequestBodyBytes;
  const declared = original.headers['content-length'];
  if (declared !== undefined && /^[0-9]+$/.test(declared) && Number(declared) > limit) {
    // The backend discards the unread body after the answer (a bounded drain), so the
    // client reads the 413 instead of a connection reset while it is still sending.
    await respond(driver, original, plainResponse(413), ctx);
    return;
  }
  const request: ServerRequest = Number.isFinite(limit) ? { ...original, body: limitBody(original.body, limit) } : original;

  let result: HandlerResult;
  try {
    for (const handler of ctx.handlers) {
      result = await handler(request);
      if (result !== undefined) break;
    }
  } catch (err) {
    await answerError(driver, request, err, ctx);
    return;
  }
  if (result === undefined || result === null) {
    await respond(driver, request, plainResponse(404), ctx);
    return;
  }
  if (typeof result !== 'object') {
    await answerError(driver, request, new TypeError('a handler returned something that is not a response'), ctx);
    return;
  }
  if (isReset(result)) {
    const code = result.reset;
    if (!Number.isInteger(code) || code < 0 || code > 0xffffffff) {
      await answerError(driver, request, new RangeError(`reset code ${String(code)} is not a 32-bit unsigned integer`), ctx);
      return;
    }
    if (!request.capabilities.reset) ctx.warnOnce('reset', 'this transport cannot reset a stream with an error code; the connection is dropped instead');
    driver.reset(code);
    return;
  }
  if (isUpgrade(result)) {
    await upgrade(driver, request, result, ctx);
    return;
  }
  await respond(driver, request, result, ctx);
}

async function answerError(driver: SinkDriver, request: ServerRequest, err: unknown, ctx: ExchangeContext): Promise<void> {
  if (request.signal.aborted) return; // the client or the queue ended it; nothing to answer
  if (err instanceof StreamResetError) {
    driver.reset(err.code);
    return;
  }
  if (err instanceof HttpError && err.status >= 400 && err.status <= 599) {
    // Our own typed errors carry messages meant for the client.
    if (driver.headSent) driver.reset(Http2ErrorCode.INTERNAL_ERROR);
    else await respond(driver, request, plainResponse(err.status, err.message), ctx).catch(() => driver.reset(Http2ErrorCode.INTERNAL_ERROR));
    return;
  }
  ctx.logger.error(`handler failed for ${describe(request)}`, err);
  if (driver.headSent) driver.reset(Http2ErrorCode.INTERNAL_ERROR);
  else await respond(driver, request, plainResponse(500), ctx).catch(() => driver.reset(Http2ErrorCode.INTERNAL_ERROR));
}

async function upgrade(driver: SinkDriver, request: ServerRequest, result: UpgradeResponse, ctx: ExchangeContext): Promise<void> {
  if (!request.capabilities.upgrade) {
    ctx.logger.error(`handler answered ${describe(request)} with an upgrade, which this exchange cannot do`, undefined);
    await respond(driver, request, plainResponse(500), ctx);
    return;
  }
  let headers: [string, string][];
  try {
    headers = normaliseOutgoingHeaders(result.headers);
  } catch (err) {
    await answerError(driver, request, err, ctx);
    return;
  }
  const socket = await driver.upgrade(headers);
  const closed = new Promise<void>((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
  try {
    result.upgrade(socket);
  } catch (err) {
    ctx.logger.error(`upgrade callback failed for ${describe(request)}`, err);
    socket.destroy();
  }
  await closed;
}

async function respond(driver: SinkDriver, request: ServerRequest, result: ServerResponse, ctx: ExchangeContext): Promise<void> {
  const status = result.status;
  if (!Number.isInteger(status) || status < 200 || status > 999) {
    await answerError(driver, request, new RangeError(`response status ${String(status)} is not a final status (200-999)`), ctx);
    return;
  }
  let headers: [string, string][];
  let body: AsyncIterator<Uint8Array> | undefined;
  try {
    headers = normaliseOutgoingHeaders(result.headers);
    const noBody = request.method === 'HEAD' || status === 204 || status === 304;
    body = noBody ? undefined : bodyIterator(result.body);
    if (noBody && result.body !== undefined && result.body !== null) {
      const it = bodyIterator(result.body);
      void it?.return?.()?.catch(() => undefined);
    }
  } catch (err) {
    await answerError(driver, request, err, ctx);
    return;
  }
  let trailers = result.trailers;
  if (trailers !== undefined && trailers !== null && !request.capabilities.trailers) {
    ctx.warnOnce('trailers', `trailers were dropped: this transport cannot send them on HTTP/${request.httpVersion}`);
    trailers = undefined;
  }
  const withTrailers = trailers !== undefined && trailers !== null;
  // Bytes known up front get a Content-Length (also for HEAD, which announces what GET would send).
  const length = fixedBodyLength(result.body);
  const announces = body !== undefined || (request.method === 'HEAD' && status !== 204 && status !== 304 && length !== 0);
  if (length !== undefined && !withTrailers && announces && headerValue(headers, 'content-length') === undefined) {
    headers.push(['content-length', String(length)]);
  }
  if (body === undefined && !withTrailers) {
    await driver.head(status, result.reason, headers, true, false);
    return;
  }
  await driver.head(status, result.reason, headers, false, withTrailers);
  if (body !== undefined) {
    for (;;) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = await body.next();
      } catch (err) {
        if (request.signal.aborted) return;
        if (err instanceof StreamResetError) {
          driver.reset(err.code);
          return;
        }
        ctx.logger.error(`response body failed for ${describe(request)}`, err);
        driver.reset(Http2ErrorCode.INTERNAL_ERROR);
        return;
      }
      if (r.done) break;
      if (r.value.byteLength === 0) continue;
      try {
        await driver.write(r.value);
      } catch {
        // The transport went away (client gone, reset, queue closed): stop pulling.
        void Promise.resolve(body.return?.()).catch(() => undefined);
        driver.reset(Http2ErrorCode.CANCEL);
        return;
      }
    }
  }
  let trailerPairs: [string, string][] | undefined;
  if (withTrailers) {
    try {
      const t = typeof trailers === 'function' ? await trailers() : trailers;
      trailerPairs = normaliseOutgoingHeaders(t ?? undefined);
    } catch (err) {
      if (request.signal.aborted) return;
      if (err instanceof StreamResetError) {
        driver.reset(err.code);
        return;
      }
      ctx.logger.error(`trailers failed for ${describe(request)}`, err);
      driver.reset(Http2ErrorCode.INTERNAL_ERROR);
      return;
    }
  }
  try {
    await driver.end(trailerPairs);
  } catch {
    // The transport went away while finishing; the backend has already released the stream.
  }
}
