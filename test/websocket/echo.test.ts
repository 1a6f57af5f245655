import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { webSocketHandler, type WebSocket } from '../../src/index.js';
import { startServer, type TestServer } from './helpers/server.js';
import { openClient, type Closed } from './helpers/clients.js';

let server: TestServer;
/** Close events seen by the server, keyed by the first text message the client sent. */
const serverCloses = new Map<string, Promise<Closed>>();

function echo(ws: WebSocket): void {
  let label: string | undefined;
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? '' : data.toString();
    if (label === undefined && !isBinary && text.startsWith('label:')) {
      label = text.slice(6);
      serverCloses.set(label, new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))));
      ws.send('labelled');
      return;
    }
    if (text.startsWith('close:')) {
      const [, code, reason] = text.split(':');
      ws.close(Number(code), reason);
      return;
    }
    if (text.startsWith('ping:')) {
      ws.once('pong', (payload) => ws.send(`pong:${payload.toString()}`));
      ws.ping(text.slice(5));
      return;
    }
    if (text === 'protocol?') {
      ws.send(`protocol:${ws.protocol}`);
      return;
    }
    ws.send(data, { binary: isBinary });
  });
}

before(async () => {
  server = await startServer([
    webSocketHandler(echo, { path: '/echo' }),
    webSocketHandler(echo, { path: '/deflate', perMessageDeflate: { threshold: 0 } }),
    webSocketHandler(echo, { path: '/proto', protocols: ['chat.v2', 'chat.v1'] }),
  ]);
});

after(async () => {
  await server.close();
});

const url = (path: string): string => `ws://127.0.0.1:${server.port}${path}`;

test('text messages echo as text', async () => {
  const c = await openClient(url('/echo'));
  c.ws.send('héllo, wörld');
  const m = await c.messages.next();
  assert.equal(m.isBinary, false);
  assert.equal(m.data.toString('utf8'), 'héllo, wörld');
  c.ws.close();
  assert.equal((await c.closed).code, 1005);
});

test('binary messages echo as binary, byte for byte', async () => {
  const c = await openClient(url('/echo'));
  const payload = randomBytes(70_000);
  c.ws.send(payload);
  const m = await c.messages.next();
  assert.equal(m.isBinary, true);
  assert.ok(m.data.equals(payload));
  c.ws.close(1000);
  await c.closed;
});

test('a 16 MiB binary message echoes intact', async () => {
  const c = await openClient(url('/echo'));
  const payload = randomBytes(16 * 1024 * 1024);
  c.ws.send(payload);
  const m = await c.messages.next();
  assert.equal(m.data.length, payload.length);
  assert.ok(m.data.equals(payload));
  c.ws.close(1000);
  await c.closed;
});

test('fragmented messages are reassembled by the server', async () => {
  const c = await openClient(url('/echo'));
  c.ws.send('frag', { fin: false });
  c.ws.send('ment', { fin: false });
  c.ws.send('ed', { fin: true });
  const m = await c.messages.next();
  assert.equal(m.data.toString(), 'fragmented');
  c.ws.close(1000);
  await c.closed;
});

test('a close code and reason from the client reach the server', async () => {
  const c = await openClient(url('/echo'));
  c.ws.send('label:client-close');
  assert.equal((await c.messages.next()).data.toString(), 'labelled');
  c.ws.close(4001, 'client says bye');
  const seen = await serverCloses.get('client-close')!;
  assert.deepEqual(seen, { code: 4001, reason: 'client says bye' });
  assert.deepEqual(await c.closed, { code: 4001, reason: 'client says bye' });
});

test('a close code and reason from the server reach the client', async () => {
  const c = await openClient(url('/echo'));
  c.ws.send('close:4002:server says bye');
  assert.deepEqual(await c.closed, { code: 4002, reason: 'server says bye' });
});

test('the server answers client pings with pongs carrying the same data', async () => {
  const c = await openClient(url('/echo'));
  const pong = new Promise<string>((resolve) => c.ws.once('pong', (d) => resolve(d.toString())));
  c.ws.ping('are you there');
  assert.equal(await pong, 'are you there');
  c.ws.close(1000);
  await c.closed;
});

test('server pings are answered by the client and seen as pongs on the server', async () => {
  const c = await openClient(url('/echo'));
  c.ws.send('ping:tick-7');
  assert.equal((await c.messages.next()).data.toString(), 'pong:tick-7');
  c.ws.close(1000);
  await c.closed;
});

test('permessage-deflate is negotiated and compresses on the wire', async () => {
  let socket: Socket | undefined;
  const c = await openClient(url('/deflate'), [], {
    perMessageDeflate: { threshold: 0 },
    finishRequest: (req) => {
      req.on('upgrade', (res: IncomingMessage) => {
        socket = res.socket as Socket;
      });
      req.end();
    },
  });
  assert.match(c.ws.extensions, /^permessage-deflate/);
  const text = 'compress me please; '.repeat(50_000); // 1,000,000 bytes, highly repetitive
  const before = socket!.bytesRead;
  c.ws.send(text);
  const m = await c.messages.next();
  assert.equal(m.data.toString(), text);
  const received = socket!.bytesRead - before;
  assert.ok(received < text.length / 20, `expected a compressed echo, read ${received} bytes for ${text.length}`);
  const big = randomBytes(16 * 1024 * 1024);
  c.ws.send(big);
  assert.ok((await c.messages.next()).data.equals(big));
  c.ws.close(1000);
  await c.closed;
});

test('without permessage-deflate enabled the offer is declined and messages still flow', async () => {
  const c = await openClient(url('/echo'), [], { perMessageDeflate: true });
  assert.equal(c.ws.extensions, '');
  c.ws.send('plain');
  assert.equal((await c.messages.next()).data.toString(), 'plain');
  c.ws.close(1000);
  await c.closed;
});

test('the first offered subprotocol the endpoint speaks is selected', async () => {
  const c = await openClient(url('/proto'), ['x.unknown', 'chat.v1', 'chat.v2']);
  assert.equal(c.ws.protocol, 'chat.v1');
  c.ws.send('protocol?');
  assert.equal((await c.messages.next()).data.toString(), 'protocol:chat.v1');
  c.ws.close(1000);
  await c.closed;
});

test('a client that offers no subprotocol is accepted without one', async () => {
  const c = await openClient(url('/proto'));
  assert.equal(c.ws.protocol, '');
  c.ws.close(1000);
  await c.closed;
});
