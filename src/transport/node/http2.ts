/**
 * HTTP/2 exchanges on node:http2's core stream API (cleartext with prior
 * knowledge, or TLS with ALPN "h2"). One object per stream is the exchange,
 * its response sink and the stream's event target; the request object builds
 * its AbortSignal and raw header pairs only when someone reads them.
 */
import http2, { type Http2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
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
import { PullBody, type ResetWatcher } from './pull-body.js';
import { hostWithoutPort, plainAddress, splitUrl, tlsInfo } from './request-info.js';
import { drained } from './drain.js';
import { listenerAnswer, type ListenerContext, type Route } from './routing.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL } = http2.constants;

const CAPABILITIES: Capabilities = Object.freeze({ trailers: true, reset: true, upgrade: false, http2: true, streaming: true });

function toH2Headers(status: number | undefined, headers: RawHeaders): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  if (status !== undefined) out[':status'] = String(status);
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i]!;
    const name = pair[0];
    if (CONNECTION_SPECIFIC.has(name) || name.charCodeAt(0) === 58 /* ':' */) continue;
    const prev = out[name];
    if (prev === undefined) out[name] = pair[1];
    else if (Array.isArray(prev)) prev.push(pair[1]);
    else out[name] = [prev, pair[1]];
  }
  return out;
}

/**
 * RST_STREAM with `code`, and no END_STREAM before it. Http2Stream.close() ends
 * the writable side first, and node flushes queued DATA before the RST_STREAM:
 * with body bytes still queued the client would see END_STREAM (a complete
 * response) and ignore the reset. Marking the writable side as ending skips
 * that end(), so queued bytes go out and the RST_STREAM follows them.
 */
function resetStream(stream: ServerHttp2Stream, code: number): void {
  if (stream.closed || stream.destroyed) return;
  const state = (stream as unknown as { _writableState?: { ending: boolean } })._writableState;
  if (code !== NGHTTP2_NO_ERROR && state && !state.ending) state.ending = true;
  stream.close(code);
}

function headerListSize(flat: readonly string[]): number {
  let size = 0;
  for (let i = 0; i + 1 < flat.length; i += 2) size += flat[i]!.length + flat[i + 1]!.length + 32;
  return size;
}

function respondPlain(stream: ServerHttp2Stream, status: number, text: string): void {
  const a = listenerAnswer(status, text);
  try {
    stream.respond(toH2Headers(a.status, a.headers));
    stream.end(a.body);
  } catch {
    stream.destroy();
  }
}

/** Connection facts, read once per HTTP/2 session (the session's socket is a proxy, slow to read per stream). */
interface Peer {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly tls: TlsInfo | undefined;
}

const peers = new WeakMap<Http2Session, Peer>();

function peerOf(session: Http2Session | undefined, port: number): Peer {
  if (session === undefined) return { remoteAddress: '', remotePort: 0, localAddress: '', localPort: port, tls: undefined };
  let peer = peers.get(session);
  if (peer === undefined) {
    const socket = session.socket;
    peer = {
      remoteAddress: plainAddress(socket?.remoteAddress),
      remotePort: socket?.remotePort ?? 0,
      localAddress: plainAddress(socket?.localAddress),
      localPort: socket?.localPort ?? port,
      tls: socket ? tlsInfo(socket) : undefined,
    };
    peers.set(session, peer);
  }
  return peer;
}

/** Request fields from the flat [name, value, ...] list: pseudo-headers skipped, repeats joined (", ", "; " for cookie). */
function joinFlat(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!; // HTTP/2 field names arrive lower-case (nghttp2 refuses others)
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

class Http2Request implements ServerRequest {
  readonly httpVersion: HttpVersion = '2.0';
  readonly capabilities = CAPABILITIES;
  readonly headers: IncomingHeaders;
  private pairs: RawHeaders | undefined = undefined;

  constructor(
    private readonly exchange: Http2Exchange,
    readonly method: string,
    readonly url: string,
    readonly path: string,
    readonly query: string,
    readonly host: string,
    private readonly flat: readonly string[],
    private readonly peer: Peer,
    readonly prefix: string,
    readonly body: PullBody,
  ) {
    this.headers = joinFlat(flat);
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
}

/** The exchange, its sink and the stream's listener target, in one object per stream. */
class Http2Exchange implements BackendExchange, ResponseSink, ResetWatcher {
  request!: Http2Request;
  readonly body: PullBody;
  private controller: AbortController | undefined = undefined;
  private abortReason: Error | undefined = undefined;
  private abortListener: AbortListener | undefined = undefined;
  private serverReset = false;
  private responded = false;
  private wantsTrailers = false;
  private finishing: (() => void) | undefined = undefined;
  private trailers: RawHeaders | undefined = undefined;
  private readonly session: Http2Session | undefined;

  constructor(
    readonly stream: ServerHttp2Stream,
    private readonly ctx: ListenerContext,
  ) {
    this.session = stream.session;
    this.body = new PullBody(stream, this);
    stream.on('close', onStreamClose);
    // Node emits 'stream' on a later tick: frames that came with the HEADERS (a RST_STREAM) may already be processed.
    if (stream.rstCode) this.peerReset();
  }

  get response(): ResponseSink {
    return this;
  }

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

  fire(reason: Error): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.body.fail(reason);
    this.controller?.abort(reason);
    const listener = this.abortListener;
    this.abortListener = undefined;
    listener?.exchangeAborted(reason);
  }

  abort(reason: unknown): void {
    this.fire(reason instanceof Error ? reason : new ExchangeAbortedError(String(reason)));
    resetStream(this.stream, NGHTTP2_CANCEL);
  }

  /**
   * Node records a peer's RST_STREAM at once but closes the stream a tick later,
   * and may end the body first; body reads ask here before reporting an end.
   */
  resetError(): Error | undefined {
    if (this.abortReason === undefined && this.stream.rstCode) this.peerReset();
    return this.abortReason instanceof ClientResetError ? this.abortReason : undefined;
  }

  /** The peer reset the stream (RST_STREAM): the exchange aborts before 'close'. */
  private peerReset(): void {
    // Our own reset, or the connection going down: 'close' tells which. (A stream Node
    // already destroyed before handing it over has no session left: its code decides.)
    if (this.serverReset || this.session?.destroyed === true) return;
    const code = this.stream.rstCode;
    if (code !== undefined && code !== NGHTTP2_NO_ERROR) this.fire(new ClientResetError(code));
  }

  closed(): void {
    const stream = this.stream;
    this.finished();
    if (this.session !== undefined) this.ctx.streamClosed?.(this.session);
    if (stream.writableFinished && this.responded && !this.serverReset) return;
    if (this.serverReset) this.fire(new ExchangeAbortedError('the server reset the stream'));
    else if (stream.rstCode !== undefined && stream.rstCode !== NGHTTP2_NO_ERROR && !stream.session?.destroyed) {
      this.fire(new ClientResetError(stream.rstCode));
    } else this.fire(new ClientDisconnectedError());
  }

  private gone(): Error {
    return this.abortReason ?? new ClientDisconnectedError();
  }

  head(status: number, _reason: string | undefined, headers: RawHeaders, end: boolean, trailers?: boolean): void {
    const stream = this.stream;
    if (stream.destroyed || stream.closed) throw new ClientDisconnectedError();
    const waitForTrailers = !end && trailers === true;
    stream.respond(toH2Headers(status, headers), { endStream: end, waitForTrailers });
    if (waitForTrailers) {
      this.wantsTrailers = true;
      stream.once('wantTrailers', onWantTrailers);
    }
    if (end) {
      this.responded = true;
      this.closeUnreadBody();
    }
  }

  write(chunk: Uint8Array): Promise<void> | void {
    const stream = this.stream;
    if (stream.destroyed || stream.closed) throw this.gone();
    if (stream.write(chunk)) return;
    return drained(stream, () => this.gone());
  }

  end(trailers: RawHeaders | undefined): Promise<void> {
    this.responded = true;
    this.trailers = trailers ?? [];
    return this.finish(undefined);
  }

  respond(status: number, _reason: string | undefined, headers: RawHeaders, body: Uint8Array, trailers: RawHeaders | undefined): Promise<void> | void {
    const stream = this.stream;
    if (stream.destroyed || stream.closed) throw new ClientDisconnectedError();
    this.responded = true;
    if (trailers === undefined && body.byteLength === 0) {
      stream.respond(toH2Headers(status, headers), { endStream: true });
      this.closeUnreadBody();
      return;
    }
    if (trailers !== undefined) {
      this.wantsTrailers = true;
      this.trailers = trailers;
      stream.respond(toH2Headers(status, headers), { waitForTrailers: true });
      stream.once('wantTrailers', onWantTrailers);
    } else {
      stream.respond(toH2Headers(status, headers));
    }
    return this.finish(body.byteLength > 0 ? body : undefined);
  }

  /** End the writable side (after `body`); resolves once it finished or the stream closed. */
  private finish(body: Uint8Array | undefined): Promise<void> {
    const stream = this.stream;
    return new Promise<void>((resolve) => {
      this.finishing = resolve;
      // An end callback is queued inside the stream; a 'finish' listener would cost a 'newListener' event.
      const done = (): void => this.finished();
      if (body === undefined) stream.end(done);
      else stream.end(body, done);
    });
  }

  /** The writable side finished, or the stream closed: the response is over. */
  finished(): void {
    const resolve = this.finishing;
    if (resolve === undefined) return;
    this.finishing = undefined;
    if (!this.wantsTrailers) this.closeUnreadBody();
    resolve();
  }

  sendTrailers(): void {
    const stream = this.stream;
    try {
      stream.sendTrailers(toH2Headers(undefined, this.trailers ?? []));
      this.closeUnreadBody();
    } catch {
      stream.destroy();
    }
  }

  reset(code: number): void {
    this.serverReset = true;
    resetStream(this.stream, code);
  }

  upgrade(): Promise<Duplex> {
    return Promise.reject(new Error('HTTP/2 exchanges cannot be upgraded'));
  }

  /** After a complete response, a body the handler never read is refused with RST_STREAM(NO_ERROR). */
  private closeUnreadBody(): void {
    const stream = this.stream;
    if (stream.endAfterHeaders) return; // the request had no body
    if (!this.body.complete && !stream.readableEnded && !stream.closed) setImmediate(closeIfUnread, stream);
  }
}

function closeIfUnread(stream: ServerHttp2Stream): void {
  if (!stream.readableEnded && !stream.closed) stream.close(NGHTTP2_NO_ERROR);
}

const EXCHANGE = Symbol('exchange');
type Tagged = ServerHttp2Stream & { [EXCHANGE]?: Http2Exchange };

// Stream listeners shared by every exchange (no closures per stream): `this` is the stream.
function onStreamClose(this: Tagged): void {
  this[EXCHANGE]?.closed();
}
function onWantTrailers(this: Tagged): void {
  this[EXCHANGE]?.sendTrailers();
}
function ignore(): void {
  // Stream errors surface through 'close' and the body.
}

function closedLater(stream: ServerHttp2Stream, ctx: ListenerContext): void {
  const session = stream.session;
  const count = ctx.streamClosed;
  if (session !== undefined && count !== undefined) stream.once('close', () => count(session));
}

/** Handle one HTTP/2 stream (the listener has counted it open; ctx.streamClosed is called when it closes). */
export function handleHttp2Stream(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawFlat: readonly string[],
  ctx: ListenerContext,
): void {
  stream.on('error', ignore);
  if (headerListSize(rawFlat) > ctx.maxHeaderBytes) {
    closedLater(stream, ctx);
    respondPlain(stream, 431, 'Request Header Fields Too Large');
    return;
  }
  const method = String(headers[':method'] ?? 'GET');
  const url = String(headers[':path'] ?? '/');
  const authority = headers[':authority'] ?? headers.host;
  const host = hostWithoutPort(typeof authority === 'string' ? authority : undefined);
  const peer = peerOf(stream.session, ctx.port);
  const { path, query } = splitUrl(url);
  const route: Route | undefined = ctx.route({
    scheme: ctx.scheme,
    port: ctx.port,
    host,
    localAddress: peer.localAddress,
    path,
  });
  if (!route) {
    closedLater(stream, ctx);
    respondPlain(stream, 404, 'Not Found');
    return;
  }
  const exchange = new Http2Exchange(stream, ctx);
  (stream as Tagged)[EXCHANGE] = exchange;
  exchange.request = new Http2Request(exchange, method, url, path, query, host, rawFlat, peer, route.prefixUrl, exchange.body);
  route.deliver(exchange);
}
