/**
 * HTTP/2 exchanges on the package's own HTTP/2 engine (../h2/). One object
 * per stream is the protocol stream, the exchange, its response sink, the
 * request body iterator and the abort source; the request object builds its
 * AbortSignal and raw header pairs only when someone reads them.
 */
import type { Duplex } from 'node:stream';
import { ClientDisconnectedError, ClientResetError, ExchangeAbortedError } from '../errors.js';
import { CONNECTION_SPECIFIC } from '../headers.js';
import type {
  AbortListener,
  BackendExchange,
  Capabilities,
  HttpVersion,
  IncomingHeaders,
  RawHeaders,
  ResponseSink,
  ServerRequest,
  TlsInfo,
} from '../types.js';
import { CloseKind, H2Connection, H2Stream, type H2ConnectionOptions } from '../h2/connection.js';
import { ErrorCode } from '../h2/constants.js';
import { encodeHeaderBlock } from '../h2/hpack.js';
import { hostWithoutPort, plainAddress, splitUrl, tlsInfo } from './request-info.js';
import { listenerAnswer, type ListenerContext, type Route } from './routing.js';
import type { Socket } from 'node:net';

const CAPABILITIES: Capabilities = Object.freeze({ trailers: true, reset: true, upgrade: false, http2: true, streaming: true });
const DONE: IteratorResult<Uint8Array> = Object.freeze({ done: true, value: undefined });
const NO_FIELDS: RawHeaders = Object.freeze([]);
const CONTINUE_HEAD = encodeHeaderBlock(100, []);

/** Fields that may go out on HTTP/2: no pseudo-headers from the caller and nothing connection-specific. */
function h2Fields(headers: RawHeaders): RawHeaders {
  for (let i = 0; i < headers.length; i++) {
    const name = headers[i]![0];
    if (CONNECTION_SPECIFIC.has(name) || name.charCodeAt(0) === 58 /* ':' */) {
      return headers.filter(([n]) => !CONNECTION_SPECIFIC.has(n) && n.charCodeAt(0) !== 58);
    }
  }
  return headers;
}

// Frozen header lists (constant response heads and trailers) are encoded once.
const encodedHeads = new Map<number, WeakMap<RawHeaders, Buffer>>();
const encodedTrailers = new WeakMap<RawHeaders, Buffer>();

function encodeHead(status: number, headers: RawHeaders): Buffer {
  if (!Object.isFrozen(headers)) return encodeHeaderBlock(status, h2Fields(headers));
  let byList = encodedHeads.get(status);
  if (byList === undefined) encodedHeads.set(status, (byList = new WeakMap()));
  let block = byList.get(headers);
  if (block === undefined) byList.set(headers, (block = encodeHeaderBlock(status, h2Fields(headers))));
  return block;
}

function encodeTrailers(trailers: RawHeaders): Buffer {
  if (!Object.isFrozen(trailers)) return encodeHeaderBlock(undefined, h2Fields(trailers));
  let block = encodedTrailers.get(trailers);
  if (block === undefined) encodedTrailers.set(trailers, (block = encodeHeaderBlock(undefined, h2Fields(trailers))));
  return block;
}

/** Connection facts, read once per connection. */
interface Peer {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly tls: TlsInfo | undefined;
}

function peerOf(socket: Socket, port: number): Peer {
  return {
    remoteAddress: plainAddress(socket.remoteAddress),
    remotePort: socket.remotePort ?? 0,
    localAddress: plainAddress(socket.localAddress),
    localPort: socket.localPort ?? port,
    tls: tlsInfo(socket),
  };
}

/** Request fields from the flat [name, value, ...] list: pseudo-headers skipped, repeats joined (", ", "; " for cookie). */
function joinFlat(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    const value = flat[i + 1]!;
    const prev = out[name];
    out[name] = prev === undefined ? value : prev + (name === 'cookie' ? '; ' : ', ') + value;
  }
  return out;
}

function pairFlat(flat: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    if (name.charCodeAt(0) !== 58 /* ':' */) out.push([name, flat[i + 1]!]);
  }
  return out;
}

class H2Request implements ServerRequest {
  readonly httpVersion: HttpVersion = '2.0';
  readonly capabilities = CAPABILITIES;
  readonly headers: IncomingHeaders;
  private pairs: RawHeaders | undefined = undefined;

  constructor(
    private readonly exchange: H2Exchange,
    readonly method: string,
    readonly url: string,
    readonly path: string,
    readonly query: string,
    readonly host: string,
    private readonly flat: readonly string[],
    private readonly peer: Peer,
    readonly prefix: string,
  ) {
    this.headers = joinFlat(flat);
  }

  get body(): AsyncIterable<Uint8Array> {
    return this.exchange;
  }
  get rawHeaders(): RawHeaders {
    return (this.pairs ??= pairFlat(this.flat));
  }
  get remoteAddress(): string {
    return this.peer.remoteAddress;
  }
  get remotePort(): number {
    return this.peer.remotePort;
  }
  get localAddress(): string {
    return this.peer.localAddress;
  }
  get localPort(): number {
    return this.peer.localPort;
  }
  get secure(): boolean {
    return this.peer.tls !== undefined;
  }
  get tls(): TlsInfo | undefined {
    return this.peer.tls;
  }
  get signal(): AbortSignal {
    return this.exchange.signal();
  }
  get aborted(): boolean {
    return this.exchange.isAborted;
  }
  onAbort(listener: AbortListener): void {
    this.exchange.followAbort(listener);
  }
  offAbort(listener: AbortListener): void {
    this.exchange.unfollowAbort(listener);
  }
}

/** What the engine's connection needs to build exchanges, per listener. */
export interface H2ServerContext extends ListenerContext {
  /** Peer facts per connection, filled on first use. */
  readonly peers: WeakMap<H2Connection, Peer>;
}

export class H2Exchange extends H2Stream implements BackendExchange, ResponseSink, AsyncIterable<Uint8Array>, AsyncIterator<Uint8Array> {
  request!: H2Request;
  private controller: AbortController | undefined = undefined;
  private abortReason: Error | undefined = undefined;
  private abortListener: AbortListener | undefined = undefined;
  /** Listeners the request's users added (ServerRequest.onAbort). */
  private requestListeners: AbortListener[] | undefined = undefined;
  private handlerReset = false;
  private finishing: (() => void) | undefined = undefined;
  // The request body as an async iterator.
  private bodyBegun = false;
  private bodyEnded = false;
  private bodyError: Error | undefined = undefined;
  private waitResolve: ((r: IteratorResult<Uint8Array>) => void) | undefined = undefined;
  private waitReject: ((err: unknown) => void) | undefined = undefined;

  constructor(
    connection: H2Connection,
    id: number,
    private readonly ctx: H2ServerContext,
  ) {
    super(connection, id);
  }

  get response(): ResponseSink {
    return this;
  }

  // ---------------------------------------------------------------- engine hooks

  started(flat: string[] | null): void {
    if (flat === null) {
      this.answerPlain(431, 'Request Header Fields Too Large');
      return;
    }
    if (this.method === 'CONNECT') {
      this.answerPlain(501, 'CONNECT is not supported');
      return;
    }
    const url = this.path;
    const host = hostWithoutPort(this.authority ?? headerValue(flat, 'host'));
    const connection = this.connection;
    let peer = this.ctx.peers.get(connection);
    if (peer === undefined) this.ctx.peers.set(connection, (peer = peerOf(connection.socket, this.ctx.port)));
    const { path, query } = splitUrl(url);
    try {
      const route: Route | undefined = this.ctx.route({
        scheme: this.ctx.scheme,
        port: this.ctx.port,
        host,
        localAddress: peer.localAddress,
        path,
      });
      if (route === undefined) {
        this.answerPlain(404, 'Not Found');
        return;
      }
      this.request = new H2Request(this, this.method, url, path, query, host, flat, peer, route.prefixUrl);
      route.deliver(this);
    } catch (err) {
      // Only this stream pays for a routing fault; the connection's frame loop goes on.
      this.ctx.logger.error(`routing ${this.method} ${path.slice(0, 200)} failed`, err);
      this.reset(ErrorCode.INTERNAL_ERROR);
    }
  }

  readable(): void {
    this.notify();
  }

  closed(kind: CloseKind, code: number): void {
    const resolve = this.finishing;
    this.finishing = undefined;
    resolve?.();
    if (kind === CloseKind.Done) return;
    if (this.endSent && !this.handlerReset) {
      // The response went out whole: a later reset (ours for an unread body, or the client's)
      // aborts nothing, but a body still being read cannot complete.
      if (!this.finReceived) {
        this.bodyError = kind === CloseKind.PeerReset && code !== ErrorCode.NO_ERROR ? new ClientResetError(code) : new ClientDisconnectedError();
        this.notify();
      }
      return;
    }
    if (this.handlerReset) this.fire(new ExchangeAbortedError('the server reset the stream'));
    else if (kind === CloseKind.PeerReset && code !== ErrorCode.NO_ERROR) this.fire(new ClientResetError(code));
    else if (kind === CloseKind.LocalReset) this.fire(new ExchangeAbortedError(`the stream was reset (HTTP/2 error ${code}): the request broke the protocol`));
    else this.fire(new ClientDisconnectedError());
  }

  // ---------------------------------------------------------------- abort

  signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get isAborted(): boolean {
    return this.abortReason !== undefined;
  }

  onAbort(listener: AbortListener): void {
    if (this.abortReason !== undefined) listener.exchangeAborted(this.abortReason);
    else this.abortListener = listener;
  }

  private fire(reason: Error): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.notify();
    this.controller?.abort(reason);
    const listener = this.abortListener;
    this.abortListener = undefined;
    listener?.exchangeAborted(reason);
    const others = this.requestListeners;
    this.requestListeners = undefined;
    if (others !== undefined) for (const l of others) l.exchangeAborted(reason);
  }

  /** @internal ServerRequest.onAbort */
  followAbort(listener: AbortListener): void {
    if (this.abortReason !== undefined) listener.exchangeAborted(this.abortReason);
    else (this.requestListeners ??= []).push(listener);
  }

  /** @internal ServerRequest.offAbort */
  unfollowAbort(listener: AbortListener): void {
    const list = this.requestListeners;
    const i = list === undefined ? -1 : list.indexOf(listener);
    if (i !== -1) list!.splice(i, 1);
  }

  abort(reason: unknown): void {
    this.fire(reason instanceof Error ? reason : new ExchangeAbortedError(String(reason)));
    this.reset(ErrorCode.CANCEL);
  }

  // ---------------------------------------------------------------- request body

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.bodyBegun) throw new TypeError('the request body can be read only once');
    this.bodyBegun = true;
    // A client waiting for 100 Continue sends the body once someone starts reading it.
    if (!this.finReceived && !this.headSent && this.request.headers['expect']?.toLowerCase() === '100-continue') {
      this.sendInformational(CONTINUE_HEAD);
    }
    return this;
  }

  /** The next chunk, the end, or an error; undefined when the caller must wait. */
  private poll(): IteratorResult<Uint8Array> | undefined {
    if (this.bodyEnded) return DONE;
    // An abort wins over data already received (a reset right after the last DATA is not a clean end).
    if (this.abortReason !== undefined) throw this.abortReason;
    const chunk = this.read();
    if (chunk === null) {
      this.bodyEnded = true;
      return DONE;
    }
    if (chunk !== undefined) return { done: false, value: chunk };
    if (this.bodyError !== undefined) throw this.bodyError;
    return undefined;
  }

  private notify(): void {
    const resolve = this.waitResolve;
    const reject = this.waitReject;
    if (resolve === undefined || reject === undefined) return;
    let r: IteratorResult<Uint8Array> | undefined;
    try {
      r = this.poll();
    } catch (err) {
      this.waitResolve = this.waitReject = undefined;
      reject(err);
      return;
    }
    if (r === undefined) return;
    this.waitResolve = this.waitReject = undefined;
    resolve(r);
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    try {
      const r = this.poll();
      if (r !== undefined) return Promise.resolve(r);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
      this.waitResolve = resolve;
      this.waitReject = reject;
    });
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    return Promise.resolve(DONE);
  }

  // ---------------------------------------------------------------- response sink

  private gone(): Error {
    return this.abortReason ?? new ClientDisconnectedError();
  }

  head(status: number, _reason: string | undefined, headers: RawHeaders, end: boolean): void {
    if (this.localClosed) throw this.gone();
    this.sendHead(encodeHead(status, headers), end);
  }

  write(chunk: Uint8Array): Promise<void> | void {
    if (this.localClosed) throw this.gone();
    if (this.sendData(chunk, false)) return;
    return this.waitWritable().then(() => {
      if (this.localClosed && !this.endSent) throw this.gone();
    });
  }

  end(trailers: RawHeaders | undefined): Promise<void> | void {
    if (this.localClosed) throw this.gone();
    if (trailers !== undefined && trailers.length > 0) this.sendTrailers(encodeTrailers(trailers));
    else this.sendData(EMPTY, true);
    return this.settle();
  }

  respond(status: number, _reason: string | undefined, headers: RawHeaders, body: Uint8Array, trailers: RawHeaders | undefined): Promise<void> | void {
    if (this.localClosed) throw new ClientDisconnectedError();
    if (trailers === undefined && body.byteLength === 0) {
      this.sendHead(encodeHead(status, headers), true);
      return;
    }
    this.sendHead(encodeHead(status, headers), false);
    if (trailers !== undefined) {
      if (body.byteLength > 0) this.sendData(body, false);
      this.sendTrailers(encodeTrailers(trailers.length > 0 ? trailers : NO_FIELDS));
    } else {
      this.sendData(body, true);
    }
    return this.settle();
  }

  /** Resolves once the response's end went out (or the stream closed). */
  private settle(): Promise<void> | void {
    if (this.endSent || this.isClosed) return;
    return new Promise<void>((resolve) => {
      this.finishing = resolve;
    });
  }

  /**
   * @internal the engine sent END_STREAM: the response is complete on the wire.
   * A request body the handler has not read to its end is then refused with
   * RST_STREAM(NO_ERROR) after a turn (RFC 9113 section 8.1), never before.
   */
  override ended(): void {
    const resolve = this.finishing;
    this.finishing = undefined;
    resolve?.();
    if (!this.remoteClosed) setImmediate(closeIfUnread, this);
  }

  override reset(code: number): void {
    if (this.isClosed) return;
    this.handlerReset = true;
    super.reset(code);
  }

  upgrade(): Promise<Duplex> {
    return Promise.reject(new Error('HTTP/2 exchanges cannot be upgraded'));
  }

  /** @internal */
  closeIfUnread(): void {
    if (!this.remoteClosed && !this.isClosed) super.reset(ErrorCode.NO_ERROR);
  }

  /** A plain-text answer from the listener (no route, oversized header list). */
  private answerPlain(status: number, text: string): void {
    const a = listenerAnswer(status, text);
    this.sendHead(encodeHeaderBlock(status, a.headers), false);
    this.sendData(a.body, true);
  }
}

const EMPTY = new Uint8Array(0);

function closeIfUnread(exchange: H2Exchange): void {
  exchange.closeIfUnread();
}

function headerValue(flat: readonly string[], name: string): string | undefined {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return flat[i + 1];
  return undefined;
}

/** Serve HTTP/2 on `socket` (preface still unread) with the package's engine. */
export function serveHttp2(socket: Socket, ctx: H2ServerContext, limits: Omit<H2ConnectionOptions, 'createStream'>): H2Connection {
  return new H2Connection(socket, {
    ...limits,
    createStream: (connection, id) => new H2Exchange(connection, id, ctx),
  });
}
