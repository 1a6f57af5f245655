/**
 * One listening port shared by every queue of this process that has a prefix
 * on it, as Http.sys shares a port between processes. Cleartext ports serve
 * HTTP/1.x and HTTP/2 with prior knowledge (the connection preface decides);
 * TLS ports offer h2 and http/1.1 by ALPN. Requests are routed to a queue by
 * the Http.sys prefix rules; an unmatched URL gets 404.
 */
import http, { type IncomingMessage, type ServerResponse as NodeResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { matchUrlPrefix, samePrefix, type RouteTarget, type UrlPrefix } from '../prefix.js';
import type { Logger, QueueTimeouts, TlsOptions } from '../types.js';
import { handleHttp1Request, handleHttp1Upgrade } from './http1.js';
import type { H2Connection, H2ConnectionOptions } from '../h2/connection.js';
import { serveHttp2, type H2ServerContext } from './h2-exchange.js';
import type { Route } from './routing.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export interface RouteEntry extends Route {
  readonly prefix: UrlPrefix;
  readonly owner: object;
}

export interface ListenerOptions {
  readonly scheme: 'http' | 'https';
  readonly port: number;
  readonly tls?: TlsOptions;
  readonly maxHeaderBytes: number;
  readonly logger: Logger;
  /** Http.sys-style limits the first queue on the port brought (they apply to the whole port, as on Http.sys). */
  readonly timeouts?: QueueTimeouts;
  readonly maxConnections?: number;
}

/** Seconds to milliseconds for a node timeout option, or the default. 0 keeps "no timeout". */
function seconds(value: number | undefined, fallbackMs: number): number {
  return value !== undefined && Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : fallbackMs;
}

const listeners = new Map<number, Listener>();

/** How long closing HTTP/2 connections may take to flush their output when the port closes. */
const CLOSE_GRACE_MS = 2000;

/** Get the listener for a port, creating it (and binding the port) if this process has none yet. */
export async function acquireListener(options: ListenerOptions, owner: object): Promise<Listener> {
  if (options.port !== 0) {
    const existing = listeners.get(options.port);
    if (existing) {
      if (existing.scheme !== options.scheme) {
        throw new Error(`port ${options.port} already serves ${existing.scheme}:// prefixes in this process; it cannot also serve ${options.scheme}://`);
      }
      existing.owners.add(owner);
      return existing;
    }
  }
  const listener = new Listener(options);
  await listener.listen(options.port);
  const again = listeners.get(listener.port);
  if (again) {
    // Another queue bound the same port while we were binding (only possible for port 0 races, which the OS prevents).
    await listener.destroy();
    again.owners.add(owner);
    return again;
  }
  listeners.set(listener.port, listener);
  listener.owners.add(owner);
  return listener;
}

export class Listener {
  readonly scheme: 'http' | 'https';
  port: number;
  readonly owners = new Set<object>();
  private readonly routes = new Set<RouteEntry>();
  private readonly server: net.Server;
  private readonly http1: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<H2Connection>();
  private readonly context: H2ServerContext;
  private readonly h2Limits: Omit<H2ConnectionOptions, 'createStream'>;
  private listening = false;
  private destroyed = false;

  constructor(private readonly options: ListenerOptions) {
    this.scheme = options.scheme;
    this.port = options.port;
    const route = (target: RouteTarget): Route | undefined => matchUrlPrefix(this.routes, target);
    const self = this;
    this.context = {
      scheme: options.scheme,
      get port() {
        return self.port;
      },
      maxHeaderBytes: options.maxHeaderBytes,
      logger: options.logger,
      route,
      peers: new WeakMap(),
    };
    const idleMs = seconds(options.timeouts?.idleConnection, 120_000);
    this.h2Limits = {
      maxHeaderListSize: options.maxHeaderBytes,
      // Advertise more than the limit, so an oversized request gets its 431 instead of failing in the client.
      advertisedHeaderListSize: Math.max(options.maxHeaderBytes * 2, 65536),
      maxConcurrentStreams: 1000,
      streamWindow: 256 * 1024,
      connectionWindow: 16 * 1024 * 1024,
      // Idle connections (no stream open) close after the idle timeout, as on Http.sys.
      idleTimeoutMs: idleMs,
      onProtocolError: (code, reason) => options.logger.warn(`closed an HTTP/2 connection on port ${this.port} (error ${code}): ${reason}`),
    };
    this.http1 = http.createServer({
      maxHeaderSize: options.maxHeaderBytes,
      requestTimeout: 0,
      // Http.sys defaults: 120 s for the header block and for idle connections.
      headersTimeout: seconds(options.timeouts?.headerWait, 120_000),
      keepAliveTimeout: idleMs,
      noDelay: true,
    });
    this.http1.on('request', (req: IncomingMessage, res: NodeResponse) => handleHttp1Request(req, res, this.context));
    this.http1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      handleHttp1Upgrade(req, socket, head, this.context),
    );
    this.http1.on('clientError', (err: Error & { code?: string }, socket: Duplex) => this.onClientError(err, socket));
    if (options.scheme === 'https') {
      if (!options.tls) throw new Error('https:// prefixes on the portable backend need the `tls` option (key and cert)');
      const t = options.tls;
      this.server = tls.createServer({
        key: typeof t.key === 'string' ? t.key : Buffer.from(t.key),
        cert: typeof t.cert === 'string' ? t.cert : Buffer.from(t.cert),
        ...(t.ca !== undefined ? { ca: (Array.isArray(t.ca) ? t.ca : [t.ca]).map((c: string | Uint8Array) => (typeof c === 'string' ? c : Buffer.from(c))) } : {}),
        ...(t.passphrase !== undefined ? { passphrase: t.passphrase } : {}),
        ALPNProtocols: ['h2', 'http/1.1'],
      });
      this.server.on('secureConnection', (socket: TLSSocket) => {
        this.track(socket);
        if (socket.alpnProtocol === 'h2') this.serveH2(socket);
        else this.http1.emit('connection', socket);
      });
      this.server.on('tlsClientError', (_err: Error, socket: TLSSocket) => socket.destroy());
    } else {
      this.server = net.createServer({ noDelay: true, pauseOnConnect: false });
      this.server.on('connection', (socket: Socket) => {
        this.track(socket);
        this.sniff(socket);
      });
    }
    if (options.maxConnections !== undefined && options.maxConnections > 0) this.server.maxConnections = options.maxConnections;
    this.server.on('error', (err) => {
      if (this.listening) options.logger.error(`listener on port ${this.port} failed`, err);
    });
  }

  private serveH2(socket: Socket): void {
    const connection = serveHttp2(socket, this.context, this.h2Limits);
    this.sessions.add(connection);
    socket.once('close', () => this.sessions.delete(connection));
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.destroyed) socket.destroy();
  }

  /** Read just enough to tell an HTTP/2 connection preface from an HTTP/1.x request line. */
  private sniff(socket: Socket): void {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (h2: boolean | undefined): void => {
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      const buffered = Buffer.concat(chunks, length);
      if (h2 === undefined) {
        socket.destroy();
        return;
      }
      if (buffered.length > 0) socket.unshift(buffered);
      if (h2) this.serveH2(socket);
      else this.http1.emit('connection', socket);
    };
    const onEnd = (): void => finish(undefined);
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        length += chunk.length;
      }
      const head = Buffer.concat(chunks, length);
      const n = Math.min(head.length, PREFACE.length);
      if (n === 0) return;
      if (!head.subarray(0, n).equals(PREFACE.subarray(0, n))) finish(false);
      else if (n === PREFACE.length) finish(true);
    };
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
  }

  private onClientError(err: Error & { code?: string }, socket: Duplex): void {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    let status = 400;
    let text = 'Bad Request';
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      status = 431;
      text = 'Request Header Fields Too Large';
    } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408;
      text = 'Request Timeout';
    } else if (err.code === 'HPE_INVALID_METHOD') {
      text = 'Bad Request: invalid method';
    } else if (err.code === 'HPE_INVALID_VERSION') {
      status = 505;
      text = 'HTTP Version Not Supported';
    }
    this.options.logger.warn(`rejected a malformed HTTP/1.x request on port ${this.port} with ${status} (${err.code ?? err.message})`);
    const body = `${text}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }

  async listen(port: number): Promise<void> {
    const tryListen = (host: string): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => {
          this.server.off('listening', onListening);
          reject(err);
        };
        const onListening = (): void => {
          this.server.off('error', onError);
          resolve();
        };
        this.server.once('error', onError);
        this.server.once('listening', onListening);
        this.server.listen({ port, host, ipv6Only: false });
      });
    try {
      await tryListen('::');
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw annotateListenError(err, port);
      await tryListen('0.0.0.0').catch((e: unknown) => {
        throw annotateListenError(e, port);
      });
    }
    this.listening = true;
    const address = this.server.address();
    if (address && typeof address === 'object') this.port = address.port;
  }

  addRoute(entry: RouteEntry): void {
    this.routes.add(entry);
  }

  removeRoutes(predicate: (entry: RouteEntry) => boolean): void {
    for (const r of [...this.routes]) if (predicate(r)) this.routes.delete(r);
  }

  hasPrefix(prefix: UrlPrefix): boolean {
    for (const r of this.routes) if (samePrefix(r.prefix, prefix)) return true;
    return false;
  }

  connectionCount(): number {
    return this.sockets.size;
  }

  /** An owner stops taking requests. When nobody routes here any more, stop accepting and close idle connections. */
  quiesceIfUnused(): void {
    if (this.routes.size > 0) return;
    if (this.listening) {
      this.listening = false;
      this.server.close();
      if (listeners.get(this.port) === this) listeners.delete(this.port);
    }
    this.http1.closeIdleConnections();
    for (const s of this.sessions) s.close();
  }

  /** An owner is gone. When no owner is left, drop every connection. */
  async release(owner: object): Promise<void> {
    this.owners.delete(owner);
    this.removeRoutes((r) => r.owner === owner);
    if (this.owners.size > 0) return;
    await this.destroy();
  }

  async destroy(): Promise<void> {
    this.quiesceIfUnused();
    this.destroyed = true;
    if (listeners.get(this.port) === this) listeners.delete(this.port);
    // HTTP/2 connections got their GOAWAY above; give responses still in their socket buffers
    // a moment to reach the client before the connections are dropped.
    if (this.sessions.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.sessions].map((s) => s.whenClosed())),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS))),
      ]);
      clearTimeout(timer);
    }
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets) s.destroy();
    this.http1.closeAllConnections();
    await new Promise<void>((resolve) => {
      if (this.sockets.size === 0) return resolve();
      const check = (): void => {
        if (this.sockets.size === 0) resolve();
        else setImmediate(check);
      };
      check();
    });
  }
}

function annotateListenError(err: unknown, port: number): Error {
  const code = (err as { code?: string }).code;
  if (code === 'EADDRINUSE') return new Error(`port ${port} is already in use by another process`, { cause: err });
  if (code === 'EACCES') return new Error(`no permission to listen on port ${port}`, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}
