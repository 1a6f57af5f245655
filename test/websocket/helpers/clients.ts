/** Client-side helpers for the WebSocket tests: the real `ws` client and raw HTTP handshakes. */
import { request } from 'node:http';
import { once } from 'node:events';
import { WebSocket, type ClientOptions, type RawData } from 'ws';

export interface Message {
  readonly data: Buffer;
  readonly isBinary: boolean;
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Queues a WebSocket's messages so a test can await them one by one. */
export class MessageQueue {
  private readonly buffered: Message[] = [];
  private readonly waiting: ((m: Message) => void)[] = [];

  constructor(ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const m = { data: toBuffer(data), isBinary };
      const w = this.waiting.shift();
      if (w) w(m);
      else this.buffered.push(m);
    });
  }

  next(): Promise<Message> {
    const m = this.buffered.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

export interface OpenClient {
  readonly ws: WebSocket;
  readonly messages: MessageQueue;
  /** Resolves with the close code and reason. */
  readonly closed: Promise<Closed>;
}

export async function openClient(url: string, protocols: string[] = [], options: ClientOptions = {}): Promise<OpenClient> {
  const ws = new WebSocket(url, protocols, options);
  const messages = new MessageQueue(ws);
  const closed = new Promise<Closed>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.on('error', () => {});
  return { ws, messages, closed };
}

/** The error the ws client reports when the server refuses the handshake. */
export async function refusedClient(url: string, protocols: string[] = []): Promise<number> {
  const ws = new WebSocket(url, protocols);
  return await new Promise<number>((resolve, reject) => {
    ws.once('open', () => reject(new Error('the handshake was expected to be refused')));
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** Send one HTTP/1.1 request with the given headers and read a non-101 answer. */
export async function rawHandshake(
  port: number,
  path: string,
  headers: Record<string, string>,
  method = 'GET',
  body?: string,
): Promise<RawAnswer> {
  const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false });
  req.end(body);
  const answer = await Promise.race([
    once(req, 'response').then(([res]) => ({ kind: 'response' as const, res })),
    once(req, 'upgrade').then(([res, socket]) => ({ kind: 'upgrade' as const, res, socket })),
  ]);
  if (answer.kind === 'upgrade') {
    answer.socket.destroy();
    throw new Error(`the server accepted the handshake with ${answer.res.statusCode}`);
  }
  const res = answer.res;
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') };
}

/** A valid set of handshake headers; tests override one field at a time. */
export function handshakeHeaders(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const base: Record<string, string | undefined> = {
    connection: 'Upgrade',
    upgrade: 'websocket',
    'sec-websocket-version': '13',
    'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
    ...overrides,
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) out[k] = v;
  return out;
}
