/**
 * The shared exchange runner: it calls a queue's handlers for one received
 * request and drives the result into the backend's ResponseSink. Both
 * backends go through here, so status codes, header rules, body pulling,
 * trailers, resets, upgrades and error handling behave the same everywhere.
 */
import type { Duplex } from 'node:stream';
import { bodyIterator, fixedBodyLength, limitBody } from './body.js';
import { ExchangeAbortedError, HttpError } from './errors.js';
import { headerValue, normaliseFrozenHeaders, normaliseOutgoingHeaders } from './headers.js';
import {
  Http2ErrorCode,
  StreamResetError,
  type BackendExchange,
  type Handler,
  type HandlerResult,
  type AbortListener,
  type Logger,
  type OutgoingHeaders,
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

/**
 * One exchange as the runner drives it: it guards the sink so it is never
 * called out of order or after the exchange ended, and follows the exchange's
 * abort state through the backend's cheap hook where there is one, so the
 * request's AbortSignal is created only if a handler reads it.
 */
/** Told once when an exchange is over for the queue. */
export interface ExchangeDone {
  exchangeDone(): void;
}

class Run implements AbortListener {
  headSent = false;
  finished = false;
  aborted = false;
  reason: unknown = undefined;
  private settled = false;
  private signalListener: (() => void) | undefined;

  constructor(
    readonly exchange: BackendExchange,
    readonly sink: ResponseSink,
    readonly ctx: ExchangeContext,
    private readonly done: ExchangeDone,
  ) {}

  follow(): void {
    const exchange = this.exchange;
    if (exchange.onAbort) {
      exchange.onAbort(this);
      return;
    }
    const signal = exchange.request.signal;
    if (signal.aborted) {
      this.abort(signal.reason);
      return;
    }
    this.signalListener = () => this.abort(signal.reason);
    signal.addEventListener('abort', this.signalListener, { once: true });
  }

  exchangeAborted(reason: Error): void {
    this.abort(reason);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.settle();
  }

  /** The exchange is over for the queue: answered, reset, closed or aborted. Runs once. */
  settle(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.signalListener) this.exchange.request.signal.removeEventListener('abort', this.signalListener);
    this.done.exchangeDone();
  }

  check(): void {
    if (this.aborted) throw this.reason instanceof Error ? this.reason : new ExchangeAbortedError('exchange aborted');
    if (this.finished) throw new ExchangeAbortedError('exchange already finished');
  }

  head(status: number, reason: string | undefined, headers: RawHeaders, end: boolean, trailers: boolean): Promise<void> | void {
    this.check();
    this.headSent = true;
    if (end) this.finished = true;
    return this.sink.head(status, reason, headers, end, trailers);
  }

  write(chunk: Uint8Array): Promise<void> | void {
    this.check();
    return this.sink.write(chunk);
  }

  end(trailers: RawHeaders | undefined): Promise<void> | void {
    this.check();
    this.finished = true;
    return this.sink.end(trailers);
  }

  respondWhole(
    respond: NonNullable<ResponseSink['respond']>,
    status: number,
    reason: string | undefined,
    headers: RawHeaders,
    body: Uint8Array,
    trailers: RawHeaders | undefined,
  ): Promise<void> | void {
    this.check();
    this.headSent = true;
    this.finished = true;
    return respond.call(this.sink, status, reason, headers, body, trailers);
  }

  reset(code: number): void {
    if (this.finished || this.aborted) return;
    this.finished = true;
    this.headSent = true;
    this.sink.reset(code);
  }

  upgrade(headers: RawHeaders): Promise<Duplex> {
    this.check();
    this.headSent = true;
    this.finished = true;
    return this.sink.upgrade(headers);
  }
}

function isThenable<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * Run one exchange to its end. `done` is called once, when the response is
 * complete, the stream was reset, an upgraded stream closed, or the exchange
 * was aborted (whatever the handler is still doing then).
 */
export function runExchange(exchange: BackendExchange, ctx: ExchangeContext, done: ExchangeDone): void {
  const run = new Run(exchange, exchange.response, ctx, done);
  run.follow();
  void drive(run);
}

function describe(request: ServerRequest): string {
  const path = request.path.length > 200 ? `${request.path.slice(0, 200)}...` : request.path;
  return `${request.method} ${path}`;
}

/** The request a handler sees when the queue limits body size: the same request with a counting body. */
class LimitedRequest implements ServerRequest {
  readonly body: AsyncIterable<Uint8Array>;
  constructor(private readonly original: ServerRequest, limit: number) {
    this.body = limitBody(original.body, limit);
  }
  get method(): string { return this.original.method; }
  get url(): string { return this.original.url; }
  get path(): string { return this.original.path; }
  get query(): string { return this.original.query; }
  get host(): string { return this.original.host; }
  get headers(): ServerRequest['headers'] { return this.original.headers; }
  get rawHeaders(): ServerRequest['rawHeaders'] { return this.original.rawHeaders; }
  get httpVersion(): ServerRequest['httpVersion'] { return this.original.httpVersion; }
  get remoteAddress(): string { return this.original.remoteAddress; }
  get remotePort(): number { return this.original.remotePort; }
  get localAddress(): string { return this.original.localAddress; }
  get localPort(): number { return this.original.localPort; }
  get secure(): boolean { return this.original.secure; }
  get tls(): ServerRequest['tls'] { return this.original.tls; }
  get prefix(): string { return this.original.prefix; }
  get signal(): AbortSignal { return this.original.signal; }
  get aborted(): boolean { return this.original.aborted ?? this.original.signal.aborted; }
  get capabilities(): ServerRequest['capabilities'] { return this.original.capabilities; }
}

async function drive(run: Run): Promise<void> {
  let handedOver = false;
  try {
    const ctx = run.ctx;
    const original = run.exchange.request;
    const limit = ctx.maxRequestBodyBytes;
    let request = original;
    if (Number.isFinite(limit)) {
      const declared = original.headers['content-length'];
      if (declared !== undefined && /^[0-9]+$/.test(declared) && Number(declared) > limit) {
        // The backend discards the unread body after the answer (a bounded drain), so the
        // client reads the 413 instead of a connection reset while it is still sending.
        await respond(run, original, plainResponse(413));
        return;
      }
      request = new LimitedRequest(original, limit);
    }

    let result: HandlerResult;
    try {
      for (const handler of ctx.handlers) {
        const r = handler(request);
        result = isThenable(r) ? await r : r;
        if (result !== undefined) break;
      }
    } catch (err) {
      await answerError(run, request, err);
      return;
    }
    if (result === undefined || result === null) {
      await respond(run, request, plainResponse(404));
      return;
    }
    if (typeof result !== 'object') {
      await answerError(run, request, new TypeError('a handler returned something that is not a response'));
      return;
    }
    if (isReset(result)) {
      const code = result.reset;
      if (!Number.isInteger(code) || code < 0 || code > 0xffffffff) {
        await answerError(run, request, new RangeError(`reset code ${String(code)} is not a 32-bit unsigned integer`));
        return;
      }
      if (!request.capabilities.reset) ctx.warnOnce('reset', 'this transport cannot reset a stream with an error code; the connection is dropped instead');
      run.reset(code);
      return;
    }
    if (isUpgrade(result)) {
      await upgrade(run, request, result);
      return;
    }
    // The response may take as long as the stream lives: hand over, so this frame is not held for it.
    handedOver = true;
    void respond(run, request, result, true);
  } catch (err) {
    transportFault(run, err);
  } finally {
    if (!handedOver) run.settle();
  }
}

/** Only reachable through a backend fault: report it and drop the stream. */
function transportFault(run: Run, err: unknown): void {
  if (!run.aborted) run.ctx.logger.error('exchange failed inside the transport', err);
  run.reset(Http2ErrorCode.INTERNAL_ERROR);
}


async function answerError(run: Run, request: ServerRequest, err: unknown): Promise<void> {
  if (run.aborted) return; // the client or the queue ended it; nothing to answer
  if (err instanceof StreamResetError) {
    run.reset(err.code);
    return;
  }
  if (err instanceof HttpError && err.status >= 400 && err.status <= 599) {
    // Our own typed errors carry messages meant for the client.
    if (run.headSent) run.reset(Http2ErrorCode.INTERNAL_ERROR);
    else await respond(run, request, plainResponse(err.status, err.message)).catch(() => run.reset(Http2ErrorCode.INTERNAL_ERROR));
    return;
  }
  run.ctx.logger.error(`handler failed for ${describe(request)}`, err);
  if (run.headSent) run.reset(Http2ErrorCode.INTERNAL_ERROR);
  else await respond(run, request, plainResponse(500)).catch(() => run.reset(Http2ErrorCode.INTERNAL_ERROR));
}

async function upgrade(run: Run, request: ServerRequest, result: UpgradeResponse): Promise<void> {
  if (!request.capabilities.upgrade) {
    run.ctx.logger.error(`handler answered ${describe(request)} with an upgrade, which this exchange cannot do`, undefined);
    await respond(run, request, plainResponse(500));
    return;
  }
  let headers: [string, string][];
  try {
    headers = normaliseOutgoingHeaders(result.headers);
  } catch (err) {
    await answerError(run, request, err);
    return;
  }
  const socket = await run.upgrade(headers);
  const closed = new Promise<void>((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
  try {
    result.upgrade(socket);
  } catch (err) {
    run.ctx.logger.error(`upgrade callback failed for ${describe(request)}`, err);
    socket.destroy();
  }
  await closed;
}

const encoder = new TextEncoder();

/** Trailers given as headers, checked; null when they are invalid (the streamed path then reports them as it always does). */
function staticTrailers(trailers: OutgoingHeaders): RawHeaders | null {
  try {
    return normaliseFrozenHeaders(trailers);
  } catch {
    return null;
  }
}

/**
 * Send a response. With `last`, this is the exchange's final step: it settles
 * the exchange when done and handles transport faults itself (never rejects),
 * so no caller's frame has to stay suspended for a long-lived response.
 */
async function respond(run: Run, request: ServerRequest, result: ServerResponse, last = false): Promise<void> {
  try {
    const status = result.status;
    if (!Number.isInteger(status) || status < 200 || status > 999) {
      await answerError(run, request, new RangeError(`response status ${String(status)} is not a final status (200-999)`));
      return;
    }
    // A frozen header set (one object a layer reuses for every response) is checked once and
    // its pairs shared; it is copied only where a content-length must be added.
    let headers: readonly (readonly [string, string])[];
    let body: AsyncIterator<Uint8Array> | undefined;
    const source = result.body;
    const noBody = request.method === 'HEAD' || status === 204 || status === 304;
    let trailers = result.trailers;
    const whole = run.sink.respond;
    let wholeBody: Uint8Array | undefined;
    let wholeTrailers: RawHeaders | null | undefined;
    try {
      headers = normaliseFrozenHeaders(result.headers);
      if (trailers !== undefined && trailers !== null && !request.capabilities.trailers) {
        run.ctx.warnOnce('trailers', `trailers were dropped: this transport cannot send them on HTTP/${request.httpVersion}`);
        trailers = undefined;
      }
      // A body and trailers known up front go out in one sink call where the backend can do that.
      if (whole !== undefined && !noBody && typeof trailers !== 'function' && (source instanceof Uint8Array || typeof source === 'string')) {
        wholeTrailers = trailers === undefined || trailers === null ? undefined : staticTrailers(trailers);
        if (wholeTrailers !== null) {
          wholeBody = typeof source === 'string' ? encoder.encode(source) : source;
          if (wholeTrailers === undefined && headerValue(headers, 'content-length') === undefined) {
            headers = [...headers, ['content-length', String(wholeBody.byteLength)]];
          }
        }
      }
      if (wholeBody === undefined) body = noBody ? undefined : bodyIterator(source);
      if (noBody && source !== undefined && source !== null) {
        const it = bodyIterator(source);
        void it?.return?.()?.catch(() => undefined);
      }
    } catch (err) {
      await answerError(run, request, err);
      return;
    }
    if (wholeBody !== undefined) {
      const sent = run.respondWhole(whole!, status, result.reason, headers, wholeBody, wholeTrailers ?? undefined);
      if (sent !== undefined) {
        try {
          await sent;
        } catch {
          // The transport went away while finishing; the backend has already released the stream.
        }
      }
      return;
    }
    const withTrailers = trailers !== undefined && trailers !== null;
    // Bytes known up front get a Content-Length (also for HEAD, which announces what GET would send).
    const length = fixedBodyLength(source);
    const announces = body !== undefined || (request.method === 'HEAD' && status !== 204 && status !== 304 && length !== 0);
    if (length !== undefined && !withTrailers && announces && headerValue(headers, 'content-length') === undefined) {
      headers = [...headers, ['content-length', String(length)]];
    }
    if (body === undefined && !withTrailers) {
      const sent = run.head(status, result.reason, headers, true, false);
      if (sent !== undefined) await sent;
      return;
    }
    const sent = run.head(status, result.reason, headers, false, withTrailers);
    if (sent !== undefined) await sent;
    if (body !== undefined) {
      for (;;) {
        let r: IteratorResult<Uint8Array>;
        try {
          r = await body.next();
        } catch (err) {
          if (run.aborted) return;
          if (err instanceof StreamResetError) {
            run.reset(err.code);
            return;
          }
          run.ctx.logger.error(`response body failed for ${describe(request)}`, err);
          run.reset(Http2ErrorCode.INTERNAL_ERROR);
          return;
        }
        if (r.done) break;
        if (r.value.byteLength === 0) continue;
        try {
          const wait = run.write(r.value);
          if (wait !== undefined) await wait;
        } catch {
          // The transport went away (client gone, reset, queue closed): stop pulling.
          void Promise.resolve(body.return?.()).catch(() => undefined);
          run.reset(Http2ErrorCode.CANCEL);
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
        if (run.aborted) return;
        if (err instanceof StreamResetError) {
          run.reset(err.code);
          return;
        }
        run.ctx.logger.error(`trailers failed for ${describe(request)}`, err);
        run.reset(Http2ErrorCode.INTERNAL_ERROR);
        return;
      }
    }
    try {
      const ended = run.end(trailerPairs);
      if (ended !== undefined) await ended;
    } catch {
      // The transport went away while finishing; the backend has already released the stream.
    }
  } catch (err) {
    if (!last) throw err;
    transportFault(run, err);
  } finally {
    if (last) run.settle();
  }
}
