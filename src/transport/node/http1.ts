/**
 * HTTP/1.x exchanges on node:http: ordinary requests ('request') and upgrade
 * requests ('upgrade', answered on the raw socket).
 */
import type { IncomingMessage, ServerResponse as NodeResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ClientDisconnectedError, ExchangeAbortedError } from '../errors.js';
import { joinIncomingHeaders } from '../headers.js';
import type { BackendExchange, Capabilities, HttpVersion, RawHeaders, ResponseSink, ServerRequest } from '../types.js';
import { pullBody } from './pull-body.js';
import { hostWithoutPort, pairHeaders, plainAddress, splitUrl, tlsInfo } from './request-info.js';
import { drained } from './drain.js';
import { listenerAnswer, type ListenerContext, type Route } from './routing.js';

/** How long an unread request body is drained after the response before the connection is dropped (Http.sys: DrainEntityBody, 120 s). */
const DRAIN_LIMIT_MS = 30_000;

/**
 * A response that ends before the request body was read (413, an early error):
 * the rest of the body is read and discarded for a bounded time, so the client
 * reads the answer instead of a connection reset while it is still sending. When
 * node would close the connection right away (the client asked for
 * `Connection: close`), the close becomes a lingering one: our FIN goes out
 * after the response, incoming bytes are still read, and the socket is
 * destroyed once the body has ended or the drain limit passes.
 */
function lingerOnEarlyResponse(req: IncomingMessage, res: NodeResponse): void {
  const socket = req.socket as Socket & { destroySoon?: () => void };
  const destroySoon = socket.destroySoon;
  let lingering = false;
  const linger = (): void => {
    if (lingering) return;
    lingering = true;
    req.resume();
    const timer = setTimeout(() => socket.destroy(), DRAIN_LIMIT_MS);
    timer.unref();
    const stop = (): void => clearTimeout(timer);
    req.once('end', stop);
    socket.once('close', stop);
  };
  if (typeof destroySoon === 'function') {
    socket.destroySoon = function lingeringDestroySoon(this: Socket): void {
      socket.destroySoon = destroySoon;
      if (req.complete || req.destroyed) {
        destroySoon.call(this);
        return;
      }
      linger();
      socket.end();
      req.once('end', () => socket.destroy());
    };
    res.once('close', () => {
      if (!lingering && socket.destroySoon !== destroySoon) socket.destroySoon = destroySoon;
    });
  }
  res.once('finish', () => {
    if (!req.complete && !req.destroyed) linger();
  });
}

function versionOf(req: IncomingMessage): HttpVersion {
  return req.httpVersion === '1.0' ? '1.0' : '1.1';
}

function baseRequest(
  req: IncomingMessage,
  ctx: ListenerContext,
): { request: Omit<ServerRequest, 'body' | 'signal' | 'capabilities' | 'prefix'>; route: Route | undefined } {
  const socket = req.socket;
  const url = req.url ?? '/';
  const { path, query } = splitUrl(url);
  const rawHeaders = pairHeaders(req.rawHeaders, false);
  const host = hostWithoutPort(req.headers.host);
  const localAddress = plainAddress(socket.localAddress);
  const tls = tlsInfo(socket);
  const request = {
    method: req.method ?? 'GET',
    url,
    path,
    query,
    host,
    headers: joinIncomingHeaders(rawHeaders),
    rawHeaders,
    httpVersion: versionOf(req),
    remoteAddress: plainAddress(socket.remoteAddress),
    remotePort: socket.remotePort ?? 0,
    localAddress,
    localPort: socket.localPort ?? ctx.port,
    secure: tls !== undefined,
    ...(tls ? { tls } : {}),
  };
  const route = ctx.route({ scheme: ctx.scheme, port: ctx.port, host, localAddress, path });
  return { request, route };
}

function flatten(headers: RawHeaders): string[] {
  const flat: string[] = [];
  for (const [n, v] of headers) flat.push(n, v);
  return flat;
}

/** Handle one ordinary HTTP/1.x request. */
export function handleHttp1Request(req: IncomingMessage, res: NodeResponse, ctx: ListenerContext): void {
  const { request, route } = baseRequest(req, ctx);
  if (!route) {
    const a = listenerAnswer(404, 'Not Found');
    res.writeHead(a.status, flatten(a.headers));
    res.end(a.body);
    return;
  }
  const controller = new AbortController();
  const body = pullBody(req);
  let serverReset = false;
  const abort = (reason: Error): void => {
    if (controller.signal.aborted) return;
    body.fail(reason);
    controller.abort(reason);
  };
  // The body stream fails when the connection breaks or the body framing is broken:
  // both end the exchange, and the body iterator reports the same reason as the signal.
  req.on('error', (err: Error) => abort(new ClientDisconnectedError(`the request ended abnormally (${err.message})`)));
  res.on('error', () => undefined);
  lingerOnEarlyResponse(req, res);
  req.on('close', () => {
    if (!req.complete) abort(new ClientDisconnectedError('the client closed the connection before the request body ended'));
  });
  res.on('close', () => {
    if (!res.writableFinished) {
      abort(serverReset ? new ExchangeAbortedError('the server reset the exchange') : new ClientDisconnectedError());
    }
  });
  const capabilities: Capabilities = {
    trailers: request.httpVersion === '1.1',
    reset: false,
    upgrade: false,
    http2: false,
    streaming: true,
  };
  const sink: ResponseSink = {
    head(status, reason, headers, end) {
      res.writeHead(status, reason, flatten(headers));
      if (end) res.end();
      else res.flushHeaders();
    },
    write(chunk) {
      if (res.destroyed) throw new ClientDisconnectedError();
      if (res.write(chunk)) return;
      return drained(res, () => (controller.signal.reason instanceof Error ? controller.signal.reason : new ClientDisconnectedError()));
    },
    end(trailers) {
      if (trailers && trailers.length > 0) res.addTrailers(trailers.map(([n, v]) => [n, v] as [string, string]));
      return new Promise<void>((resolve) => {
        res.once('close', () => resolve());
        res.end(() => resolve());
      });
    },
    reset() {
      serverReset = true;
      res.destroy();
    },
    upgrade() {
      return Promise.reject(new Error('this request did not ask for an upgrade'));
    },
  };
  const exchange: BackendExchange = {
    request: { ...request, prefix: route.prefixUrl, body, signal: controller.signal, capabilities },
    response: sink,
    abort(reason) {
      abort(reason instanceof Error ? reason : new ExchangeAbortedError(String(reason)));
      res.destroy();
    },
  };
  route.deliver(exchange);
}

const EMPTY_BODY: AsyncIterable<Uint8Array> = {
  [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }) }),
};

function statusLine(status: number, reason: string | undefined): string {
  const text = (reason ?? defaultReason(status)).replace(/[\r\n]/g, ' ');
  return `HTTP/1.1 ${status} ${text}\r\n`;
}

function defaultReason(status: number): string {
  const map: Record<number, string> = {
    101: 'Switching Protocols',
    200: 'OK',
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    405: 'Method Not Allowed',
    426: 'Upgrade Required',
    500: 'Internal Server Error',
    503: 'Service Unavailable',
  };
  return map[status] ?? 'Unknown';
}

function headerBlock(headers: RawHeaders): string {
  let s = '';
  for (const [n, v] of headers) s += `${n}: ${v}\r\n`;
  return s;
}

/**
 * Handle a request that asked for an upgrade. The handler may accept it (101,
 * then the socket is a raw byte stream) or answer normally, in which case the
 * answer is written on the socket and the connection closes afterwards.
 */
export function handleHttp1Upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: ListenerContext): void {
  const { request, route } = baseRequest(req, ctx);
  const raw = socket as Socket;
  raw.setTimeout?.(0);
  socket.on('error', () => undefined);
  if (!route) {
    const a = listenerAnswer(404, 'Not Found');
    socket.end(statusLine(a.status, undefined) + headerBlock([...a.headers, ['connection', 'close']]) + '\r\n' + a.body.toString());
    return;
  }
  const controller = new AbortController();
  let settled = false; // 101 sent, or the answer finished
  const abort = (reason: Error): void => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  socket.on('close', () => {
    if (!settled) abort(new ClientDisconnectedError());
  });
  const capabilities: Capabilities = { trailers: false, reset: false, upgrade: true, http2: false, streaming: true };
  const write = (chunk: Uint8Array | string): Promise<void> | void => {
    if (socket.destroyed) throw new ClientDisconnectedError();
    if (socket.write(chunk)) return;
    return drained(socket, () => new ClientDisconnectedError());
  };
  const sink: ResponseSink = {
    head(status, reason, headers, end) {
      const withClose = headers.some(([n]) => n === 'connection') ? headers : [...headers, ['connection', 'close'] as const];
      const r = write(statusLine(status, reason) + headerBlock(withClose) + '\r\n');
      if (end) {
        settled = true;
        socket.end();
      }
      return r;
    },
    write,
    end() {
      settled = true;
      socket.end();
    },
    reset() {
      settled = true;
      socket.destroy();
    },
    async upgrade(headers) {
      await write(statusLine(101, undefined) + headerBlock(headers) + '\r\n');
      settled = true;
      if (head.length > 0) socket.unshift(head);
      return socket;
    },
  };
  const exchange: BackendExchange = {
    request: { ...request, prefix: route.prefixUrl, body: EMPTY_BODY, signal: controller.signal, capabilities },
    response: sink,
    abort(reason) {
      abort(reason instanceof Error ? reason : new ExchangeAbortedError(String(reason)));
      socket.destroy();
    },
  };
  route.deliver(exchange);
}
