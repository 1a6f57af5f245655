/**
 * A minimal node:http server that runs queue handlers for upgrade requests and
 * plain requests, used until the portable queue backend is available.
 */
import { createServer, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Handler, HandlerResult, RawHeaders, ServerRequest } from '../../../src/transport/types.js';

export interface TestServer {
  readonly port: number;
  close(): Promise<void>;
}

function toRequest(req: IncomingMessage, signal: AbortSignal, upgrade: boolean): ServerRequest {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const raw: [string, string][] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) raw.push([req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!]);
  const headers: Record<string, string> = {};
  for (const [k, v] of raw) headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  const sock = req.socket;
  return {
    method: req.method ?? 'GET',
    url,
    path: q < 0 ? url : url.slice(0, q),
    query: q < 0 ? '' : url.slice(q + 1),
    host: (headers['host'] ?? '').replace(/:\d+$/, ''),
    headers,
    rawHeaders: raw,
    httpVersion: req.httpVersion === '1.0' ? '1.0' : '1.1',
    remoteAddress: sock.remoteAddress ?? '',
    remotePort: sock.remotePort ?? 0,
    localAddress: sock.localAddress ?? '',
    localPort: sock.localPort ?? 0,
    secure: false,
    prefix: 'http://+:0/',
    body: req,
    signal,
    capabilities: { trailers: true, reset: false, upgrade, http2: false, streaming: true },
  };
}

function headerLines(headers: RawHeaders | Readonly<Record<string, string | number | readonly string[]>> | undefined): string[] {
  if (headers === undefined) return [];
  if (Array.isArray(headers)) return (headers as RawHeaders).map(([k, v]) => `${k}: ${v}`);
  const lines: string[] = [];
  for (const [k, v] of Object.entries(headers as Record<string, string | number | readonly string[]>)) {
    for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${String(one)}`);
  }
  return lines;
}

async function bodyBytes(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const parts: Buffer[] = [];
  for await (const c of body as AsyncIterable<Uint8Array>) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function run(handlers: readonly Handler[], request: ServerRequest): Promise<HandlerResult> {
  for (const h of handlers) {
    const r = await h(request);
    if (r !== undefined) return r;
  }
  return undefined;
}

export async function startServer(handlers: readonly Handler[]): Promise<TestServer> {
  const sockets = new Set<Duplex>();
  const server = createServer(async (req, res) => {
    const ac = new AbortController();
    res.on('close', () => ac.abort(new Error('client gone')));
    const result = await run(handlers, toRequest(req, ac.signal, false));
    if (result === undefined) {
      res.writeHead(404).end();
      return;
    }
    if ('reset' in result || result.status === 101) {
      res.destroy();
      return;
    }
    const body = await bodyBytes((result as { body?: unknown }).body);
    res.writeHead(result.status, Object.fromEntries(headerLines(result.headers).map((l) => l.split(': ') as [string, string])));
    res.end(body);
  });
  server.on('upgrade', async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const ac = new AbortController();
    const result = await run(handlers, toRequest(req, ac.signal, true));
    if (result === undefined) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    if ('reset' in result) {
      socket.destroy();
      return;
    }
    if (result.status === 101 && 'upgrade' in result) {
      socket.write(['HTTP/1.1 101 Switching Protocols', ...headerLines(result.headers), '', ''].join('\r\n'));
      if (head.length > 0) socket.unshift(head);
      result.upgrade(socket);
      return;
    }
    const body = await bodyBytes((result as { body?: unknown }).body);
    socket.end(
      Buffer.concat([
        Buffer.from(
          [`HTTP/1.1 ${result.status} ${STATUS_CODES[result.status] ?? ''}`, ...headerLines(result.headers), `content-length: ${body.length}`, 'connection: close', '', ''].join('\r\n'),
        ),
        body,
      ]),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
