/** One received Http.sys request as the contract's ServerRequest, with its exchange plumbing. */
import type { Duplex } from 'node:stream';
import type { NativeCapabilities, NativeRequest, NativeRequestQueue } from '../../native/types.js';
import { ClientDisconnectedError } from '../errors.js';
import type {
  AbortListener,
  BackendExchange,
  Capabilities,
  HttpVersion,
  IncomingHeaders,
  Logger,
  RawHeaders,
  ResponseSink,
  ServerRequest,
  TlsInfo,
} from '../types.js';
import { exchangeCapabilities, httpVersionOf } from './capabilities.js';
import type { DisconnectWatcher } from './disconnects.js';
import { ExchangeResetError, isConnectionGone } from './errors.js';
import type { ExchangeIo } from './exchange-io.js';
import { requestBody } from './request-body.js';
import { announcesBody, mapRequestHeaders, requestHost, splitRawUrl } from './request-headers.js';
import { createResponseSink } from './response-sink.js';
import { describeTls } from './tls-names.js';

export interface ExchangeContext {
  readonly queue: NativeRequestQueue;
  readonly host: NativeCapabilities;
  readonly disconnects: DisconnectWatcher;
  readonly logger: Logger;
  readonly maxRequestBodyBytes: number;
  readonly maxSendsInFlight: number;
  readonly bufferLimit: number;
  /** True once the queue's handle is closing. */
  queueClosing(): boolean;
  /** Called once when the exchange has released everything. */
  onSettled(exchange: HttpSysExchange): void;
}

class HttpSysRequest implements ServerRequest {
  readonly method: string;
  readonly url: string;
  readonly path: string;
  readonly query: string;
  readonly host: string;
  readonly headers: IncomingHeaders;
  readonly rawHeaders: RawHeaders;
  readonly httpVersion: HttpVersion;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly secure: boolean;
  readonly tls?: TlsInfo;
  readonly prefix: string;
  readonly body: AsyncIterable<Uint8Array>;
  readonly capabilities: Capabilities;
  /** Header block size in bytes, for the header limit. */
  readonly headerBytes: number;

  constructor(native: NativeRequest, prefix: string, exchange: HttpSysExchange, ctx: ExchangeContext) {
    const mapped = mapRequestHeaders(native.headers);
    const target = splitRawUrl(native.rawUrl);
    this.method = native.method;
    this.url = target.url;
    this.path = target.path;
    this.query = target.query;
    this.headers = mapped.headers;
    this.rawHeaders = mapped.rawHeaders;
    this.headerBytes = mapped.size;
    this.host = requestHost(native.host, mapped.headers);
    this.httpVersion = httpVersionOf(native.httpVersion, native.http2);
    this.remoteAddress = native.remoteAddress;
    this.remotePort = native.remotePort;
    this.localAddress = native.localAddress;
    this.localPort = native.localPort;
    this.secure = native.secure;
    if (native.secure) this.tls = describeTls(native.tls, native.http2);
    this.prefix = prefix;
    const hasBody = (native.body !== null && native.body.byteLength > 0) || native.moreBody || announcesBody(mapped.headers);
    this.capabilities = exchangeCapabilities(ctx.host, {
      httpVersion: this.httpVersion,
      http2: native.http2,
      hasBody,
    });
    this.body = requestBody({
      first: native.body,
      more: native.moreBody,
      read: (max) => ctx.queue.readBody(native.id, max),
      limit: ctx.maxRequestBodyBytes,
      signal: exchange.controller.signal,
      onReadError: (err) => exchange.failed(err),
      onTooLarge: () => undefined,
    });
  }

  declare readonly signal: AbortSignal;

  /** Whether the exchange was aborted, read without creating a disconnect wait. */
  get aborted(): boolean {
    return this.exchangeAborted();
  }

  declare private readonly exchangeAborted: () => boolean;
}

// Watching for the client going away starts when someone first reads `signal`.
// It is an own enumerable accessor so copies made with object spread keep it.
function defineSignal(request: HttpSysRequest, exchange: HttpSysExchange): void {
  Object.defineProperty(request, 'exchangeAborted', { value: () => exchange.controller.signal.aborted });
  Object.defineProperty(request, 'signal', {
    enumerable: true,
    configurable: false,
    get(): AbortSignal {
      exchange.watchDisconnect();
      return exchange.controller.signal;
    },
  });
}

export class HttpSysExchange implements BackendExchange {
  readonly controller = new AbortController();
  readonly request: HttpSysRequest;
  readonly response: ResponseSink & { abandon(): void };
  private upgradedStream: Duplex | undefined;
  private unwatch: (() => void) | undefined;
  private watching = false;
  private settledOnce = false;
  private abortListeners: AbortListener[] | undefined;

  constructor(
    readonly native: NativeRequest,
    prefix: string,
    private readonly ctx: ExchangeContext,
  ) {
    this.request = new HttpSysRequest(native, prefix, this, ctx);
    defineSignal(this.request, this);
    const io: ExchangeIo = {
      queue: ctx.queue,
      id: native.id,
      method: native.method,
      httpVersion: this.request.httpVersion,
      http2: native.http2,
      host: ctx.host,
      capabilities: this.request.capabilities,
      logger: ctx.logger,
      maxSendsInFlight: ctx.maxSendsInFlight,
      bufferLimit: ctx.bufferLimit,
      queueClosing: () => ctx.queueClosing(),
      failed: (err) => this.failed(err),
      settled: () => this.settle(),
      resetting: (code) => this.abort(new ExchangeResetError(code)),
      upgraded: (stream) => {
        this.upgradedStream = stream;
      },
    };
    this.response = createResponseSink(io);
  }

  /**
   * Tells `listener` once when the exchange is aborted. Unlike reading `request.signal`, this starts
   * no HttpWaitForDisconnectEx: a client that goes away is still seen through the failing reads and sends.
   */
  onAbort(listener: AbortListener): void {
    if (this.controller.signal.aborted) listener.exchangeAborted(this.controller.signal.reason as Error);
    else (this.abortListeners ??= []).push(listener);
  }

  abort(reason: unknown): void {
    if (!this.controller.signal.aborted) {
      this.controller.abort(reason);
      const listeners = this.abortListeners;
      this.abortListeners = undefined;
      if (listeners !== undefined) for (const l of listeners) l.exchangeAborted(this.controller.signal.reason as Error);
    }
    this.response.abandon();
    // Closed the way a socket is when its server goes: 'close' without an 'error' event, which would
    // crash a process whose upgrade handler has no error listener. Failed reads and writes still error.
    if (this.upgradedStream !== undefined && !this.upgradedStream.destroyed) this.upgradedStream.destroy();
  }

  /** A read or send failed: when the connection is gone, the signal says so. */
  failed(err: Error): void {
    if (isConnectionGone(err)) {
      this.abort(Object.assign(new ClientDisconnectedError(), { cause: err }));
    } else {
      this.abort(err);
    }
  }

  watchDisconnect(): void {
    if (this.watching || this.settledOnce) return;
    this.watching = true;
    this.unwatch = this.ctx.disconnects.watch(this.native.connectionId, () => this.abort(new ClientDisconnectedError()));
  }

  private settle(): void {
    if (this.settledOnce) return;
    this.settledOnce = true;
    this.unwatch?.();
    this.unwatch = undefined;
    this.ctx.onSettled(this);
  }
}
