/**
 * WebSocket echo over the upgrade path (the opaque path on Http.sys), with the
 * real `ws` client: text, binary, a 16 MiB message, close codes both ways, and
 * a refused handshake. The server side (`<prefix>ws`) also runs in Windows node.exe.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { WebSocket, type RawData } from 'ws';
import { acceptWebSocket } from '../../src/index.js';
import type { ServerRequest } from '../../src/index.js';
import type { CapsAnswer, CaseContext } from './case-context.js';
import { h1, type H1Result } from './clients.js';
import type { ExtraEndpoint } from './extensions.js';
import { need } from './skip.js';

/** Echoes every message; the text "close:<code>:<reason>" makes the server close instead. */
function echoEndpoint(request: ServerRequest): ReturnType<ExtraEndpoint> {
  return acceptWebSocket(request, {
    onConnection: (ws) => {
      ws.on('message', (data, isBinary) => {
        const text = isBinary ? '' : data.toString();
        const m = /^close:(\d+):(.*)$/.exec(text);
        if (m) ws.close(Number(m[1]), m[2]);
        else ws.send(data, { binary: isBinary });
      });
    },
  });
}

export const webSocketEndpoints: Record<string, ExtraEndpoint> = { ws: echoEndpoint };

interface Client {
  readonly ws: WebSocket;
  next(): Promise<{ data: Buffer; isBinary: boolean }>;
  readonly closed: Promise<{ code: number; reason: string }>;
}

function asBuffer(data: RawData): Buffer {
  return Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

async function connect(ctx: CaseContext): Promise<Client> {
  const ws = new WebSocket(ctx.url('ws').replace(/^http/, 'ws'));
  const inbox: { data: Buffer; isBinary: boolean }[] = [];
  const waiting: ((m: { data: Buffer; isBinary: boolean }) => void)[] = [];
  ws.on('message', (data, isBinary) => {
    const m = { data: asBuffer(data), isBinary };
    const w = waiting.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.on('error', () => {});
  return {
    ws,
    next: () => {
      const m = inbox.shift();
      return m ? Promise.resolve(m) : new Promise((resolve) => waiting.push(resolve));
    },
    closed,
  };
}

/**
 * Whether the server can upgrade a WebSocket request. Capabilities are per
 * exchange (a plain GET may say "no upgrade" where an Upgrade request says
 * yes), so `caps` is asked with the handshake's Upgrade headers.
 */
const upgradeAnswers = new WeakMap<CaseContext, Promise<{ upgrade: boolean; backend: string }>>();
function upgradeAnswer(ctx: CaseContext): Promise<{ upgrade: boolean; backend: string }> {
  let answer = upgradeAnswers.get(ctx);
  if (!answer) {
    answer = h1({ port: ctx.port(), path: '/conf/caps', headers: { connection: 'Upgrade', upgrade: 'websocket' } }).then((r) => {
      if (r.status !== 200) throw new Error(`caps with Upgrade headers answered ${r.status}: ${r.body.toString()}`);
      const caps = JSON.parse(r.body.toString()) as CapsAnswer;
      return { upgrade: caps.capabilities.upgrade, backend: caps.backend };
    });
    upgradeAnswers.set(ctx, answer);
  }
  return answer;
}

async function canUpgrade(t: TestContext, ctx: CaseContext): Promise<boolean> {
  const { upgrade, backend } = await upgradeAnswer(ctx);
  return need(t, upgrade, `the ${backend} backend reports no upgrade support for WebSocket handshakes`);
}

export function registerWebSocketCases(ctx: CaseContext): void {
  test('WebSocket echo: text and binary messages', async (t) => {
    if (!(await canUpgrade(t, ctx))) return;
    const c = await connect(ctx);
    c.ws.send('hello, wörld');
    const text = await c.next();
    assert.equal(text.isBinary, false);
    assert.equal(text.data.toString(), 'hello, wörld');
    const bytes = randomBytes(100_000);
    c.ws.send(bytes);
    const binary = await c.next();
    assert.equal(binary.isBinary, true);
    assert.ok(binary.data.equals(bytes));
    c.ws.close(1000);
    assert.equal((await c.closed).code, 1000);
  });

  test('WebSocket echo: a 16 MiB message', async (t) => {
    if (!(await canUpgrade(t, ctx))) return;
    const c = await connect(ctx);
    const big = randomBytes(16 * 1024 * 1024);
    c.ws.send(big);
    const m = await c.next();
    assert.equal(m.data.length, big.length);
    assert.ok(m.data.equals(big));
    c.ws.close(1000);
    await c.closed;
  });

  test('WebSocket echo: close codes and reasons both ways', async (t) => {
    if (!(await canUpgrade(t, ctx))) return;
    const fromClient = await connect(ctx);
    fromClient.ws.close(4001, 'client bye');
    // The server answers a close frame with the same code and reason.
    assert.deepEqual(await fromClient.closed, { code: 4001, reason: 'client bye' });
    const fromServer = await connect(ctx);
    fromServer.ws.send('close:4002:server bye');
    assert.deepEqual(await fromServer.closed, { code: 4002, reason: 'server bye' });
  });

  test('WebSocket: malformed handshakes are refused with 426 or 400 and the reason, and the queue keeps serving', async () => {
    // Refusals need no upgrade support, so they run on every backend.
    const handshake = (overrides: Record<string, string>): Promise<H1Result> =>
      h1({
        port: ctx.port(),
        path: '/conf/ws',
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
          ...overrides,
        },
      });
    const version = await handshake({ 'sec-websocket-version': '8' });
    assert.equal(version.status, 426);
    assert.equal(version.headers['sec-websocket-version'], '13');
    assert.match(version.body.toString(), /Sec-WebSocket-Version/);
    const key = await handshake({ 'sec-websocket-key': Buffer.alloc(15).toString('base64') });
    assert.equal(key.status, 400);
    assert.match(key.body.toString(), /Sec-WebSocket-Key must be 16 bytes/);
    const caps = await h1({ port: ctx.port(), path: '/conf/caps' });
    assert.equal(caps.status, 200);
    const { upgrade } = await upgradeAnswer(ctx);
    if (upgrade) {
      const c = await connect(ctx);
      c.ws.send('after a refusal');
      assert.equal((await c.next()).data.toString(), 'after a refusal');
      c.ws.close(1000);
      await c.closed;
    }
  });

  test('WebSocket: where the backend cannot upgrade, a handshake is refused with 501 and the reason', async (t) => {
    const { upgrade, backend } = await upgradeAnswer(ctx);
    if (!need(t, !upgrade, `the ${backend} backend can upgrade WebSocket handshakes, so it never refuses them for that`)) return;
    const r = await h1({
      port: ctx.port(),
      path: '/conf/ws',
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
      },
    });
    assert.equal(r.status, 501);
    assert.match(r.body.toString(), /cannot switch connections to WebSocket/);
  });
}
