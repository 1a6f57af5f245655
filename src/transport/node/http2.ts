/** HTTP/2 exchanges on node:http2 (cleartext with prior knowledge, or TLS with ALPN "h2"). */
import http2, { type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { ClientDisconnectedError, ClientResetError, ExchangeAbortedError } from '../errors.js';
import { CONNECTION_SPECIFIC, joinIncomingHeaders } from '../headers.js';
import type { BackendExchange, Capabilities, RawHeaders, ResponseSink } from '../types.js';
import { pullBody } from './pull-body.js';
import { hostWithoutPort, pairHeaders, plainAddress, splitUrl, tlsInfo } from './request-info.js';
import { listenerAnswer, type ListenerContext } from './routing.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL } = http2.constants;

function toH2Headers(status: number | undefined, headers: RawHeaders): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  if (status !== undefined) out[':status'] = String(status);
  for (const [name, value] of headers) {
    if (CONNECTION_SPECIFIC.has(name) || name.startsWith(':')) continue;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
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

/** Handle one HTTP/2 stream. */
export function handleHttp2Stream(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawFlat: readonly string[],
  ctx: ListenerContext,
): void {
  stream.on('error', () => undefined);
  if (headerListSize(rawFlat) > ctx.maxHeaderBytes) {
    respondPlain(stream, 431, 'Request Header Fields Too Large');
    return;
  }
  const method = String(headers[':method'] ?? 'GET');
  const url = String(headers[':path'] ?? '/');
  const { path, query } = splitUrl(url);
  const rawHeaders = pairHeaders(rawFlat, true);
  const authority = headers[':authority'] ?? headers.host;
  const host = hostWithoutPort(typeof authority === 'string' ? authority : undefined);
  const socket = stream.session?.socket;
  const localAddress = plainAddress(socket?.localAddress);
  const route = ctx.route({ scheme: ctx.scheme, port: ctx.port, host, localAddress, path });
  if (!route) {
    respondPlain(stream, 404, 'Not Found');
    return;
  }
  const tls = socket ? tlsInfo(socket) : undefined;
  const controller = new AbortController();
  const body = pullBody(stream);
  let serverReset = false;
  let responded = false;
  let waitingForTrailers = false;
  const abort = (reason: Error): void => {
    if (controller.signal.aborted) return;
    body.fail(reason);
    controller.abort(reason);
  };
  stream.on('close', () => {
    if (stream.writableFinished && responded && !serverReset) return;
    if (serverReset) abort(new ExchangeAbortedError('the server reset the stream'));
    else if (stream.rstCode !== undefined && stream.rstCode !== NGHTTP2_NO_ERROR && !stream.session?.destroyed) {
      abort(new ClientResetError(stream.rstCode));
    } else abort(new ClientDisconnectedError());
  });
  const capabilities: Capabilities = { trailers: true, reset: true, upgrade: false, http2: true, streaming: true };
  const sink: ResponseSink = {
    head(status, _reason, hs, end, trailers) {
      if (stream.destroyed || stream.closed) throw new ClientDisconnectedError();
      waitingForTrailers = !end && trailers === true;
      stream.respond(toH2Headers(status, hs), { endStream: end, waitForTrailers: waitingForTrailers });
      if (end) {
        responded = true;
        closeUnreadBody();
      }
    },
    write(chunk) {
      if (stream.destroyed || stream.closed) throw controller.signal.reason instanceof Error ? controller.signal.reason : new ClientDisconnectedError();
      if (stream.write(chunk)) return;
      return new Promise<void>((resolve, reject) => {
        const cleanup = (): void => {
          stream.off('drain', onDrain);
          stream.off('close', onClose);
        };
        const onDrain = (): void => {
          cleanup();
          resolve();
        };
        const onClose = (): void => {
          cleanup();
          reject(controller.signal.reason instanceof Error ? controller.signal.reason : new ClientDisconnectedError());
        };
        stream.on('drain', onDrain);
        stream.on('close', onClose);
      });
    },
    end(trailers) {
      responded = true;
      if (waitingForTrailers) {
        stream.once('wantTrailers', () => {
          try {
            stream.sendTrailers(toH2Headers(undefined, trailers ?? []));
            closeUnreadBody();
          } catch {
            stream.destroy();
          }
        });
      }
      return new Promise<void>((resolve) => {
        stream.once('close', () => resolve());
        stream.end(() => {
          if (!waitingForTrailers) closeUnreadBody();
          resolve();
        });
      });
    },
    reset(code) {
      serverReset = true;
      resetStream(stream, code);
    },
    upgrade() {
      return Promise.reject(new Error('HTTP/2 exchanges cannot be upgraded'));
    },
  };
  // After a complete response, a body the handler never read is refused with RST_STREAM(NO_ERROR).
  function closeUnreadBody(): void {
    if (stream.endAfterHeaders) return; // the request had no body
    if (!body.complete && !stream.readableEnded && !stream.closed) {
      setImmediate(() => {
        if (!stream.readableEnded && !stream.closed) stream.close(NGHTTP2_NO_ERROR);
      });
    }
  }
  const exchange: BackendExchange = {
    request: {
      method,
      url,
      path,
      query,
      host,
      headers: joinIncomingHeaders(rawHeaders),
      rawHeaders,
      httpVersion: '2.0',
      remoteAddress: plainAddress(socket?.remoteAddress),
      remotePort: socket?.remotePort ?? 0,
      localAddress,
      localPort: socket?.localPort ?? ctx.port,
      secure: tls !== undefined,
      ...(tls ? { tls } : {}),
      prefix: route.prefixUrl,
      body,
      signal: controller.signal,
      capabilities,
    },
    response: sink,
    abort(reason) {
      abort(reason instanceof Error ? reason : new ExchangeAbortedError(String(reason)));
      resetStream(stream, NGHTTP2_CANCEL);
    },
  };
  route.deliver(exchange);
}
