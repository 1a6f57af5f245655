import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { acceptWebSocket, webSocketHandler, type WebSocket } from '../../src/index.js';
import type { Handler } from '../../src/transport/types.js';
import { startServer, type TestServer } from './helpers/server.js';
import { openClient, type Closed } from './helpers/clients.js';
import { frame, Opcode, rawConnect, serverCloseCode } from './helpers/frames.js';

let server: TestServer;
const logged: string[] = [];

interface ServerSide {
  readonly ws: WebSocket;
  readonly socket: Duplex;
  readonly closed: Promise<Closed>;
}
/** Server-side connections on /tracked, in arrival order. */
const tracked: ServerSide[] = [];
const trackedWaiters: ((s: ServerSide) => void)[] = [];
function nextTracked(): Promise<ServerSide> {
  const s = tracked.shift();
  return s ? Promise.resolve(s) : new Promise((resolve) => trackedWaiters.push(resolve));
}

function echo(ws: WebSocket): void {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

/** Accepts on /tracked and records the raw stream the transport handed over. */
const trackingHandler: Handler = (request) => {
  if (request.path !== '/tracked') return undefined;
  let socket: Duplex | undefined;
  const answer = acceptWebSocket(request, {
    onConnection: (ws) => {
      echo(ws);
      const closed = new Promise<Closed>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
      const side = { ws, socket: socket!, closed };
      const w = trackedWaiters.shift();
      if (w) w(side);
      else tracked.push(side);
    },
  });
  if (!('upgrade' in answer)) return answer;
  return {
    ...answer,
    upgrade: (s: Duplex) => {
      socket = s;
      answer.upgrade(s);
    },
  };
};

before(async () => {
  server = await startServer([
    trackingHandler,
    webSocketHandler(echo, { path: '/echo' }),
    webSocketHandler(echo, { path: '/small', maxPayload: 1024 }),
    webSocketHandler(
      () => {
        throw new Error('application bug');
      },
      { path: '/throws', logger: { error: (message) => logged.push(message) } },
    ),
  ]);
});

after(async () => {
  await server.close();
});

const url = (path: string): string => `ws://127.0.0.1:${server.port}${path}`;

async function stillServes(): Promise<void> {
  const c = await openClient(url('/echo'));
  c.ws.send('still here');
  assert.equal((await c.messages.next()).data.toString(), 'still here');
  c.ws.close(1000);
  await c.closed;
}

test('a client that vanishes mid-message is cleaned up and the server keeps serving', async () => {
  const socket = await rawConnect(server.port, '/tracked');
  const side = await nextTracked();
  const partial = frame(Opcode.binary, randomBytes(1000), { declaredLength: 1024 * 1024 });
  socket.write(partial);
  socket.destroy();
  const closed = await side.closed;
  assert.equal(closed.code, 1006);
  assert.equal(side.ws.readyState, side.ws.CLOSED);
  if (!side.socket.destroyed) await once(side.socket, 'close');
  assert.equal(side.socket.destroyed, true);
  await stillServes();
});

test('a ws client terminated in the middle of a large message is cleaned up', async () => {
  const c = await openClient(url('/tracked'));
  const side = await nextTracked();
  c.ws.send(randomBytes(8 * 1024 * 1024));
  c.ws.terminate();
  assert.equal((await side.closed).code, 1006);
  if (!side.socket.destroyed) await once(side.socket, 'close');
  await stillServes();
});

test('text that is not UTF-8 closes the connection with 1007', async () => {
  const c = await openClient(url('/echo'));
  c.ws.send(Buffer.from([0x68, 0x69, 0xff, 0xfe]), { binary: false });
  assert.equal((await c.closed).code, 1007);
  await stillServes();
});

test('a message over maxPayload closes the connection with 1009', async () => {
  const c = await openClient(url('/small'));
  c.ws.send('a'.repeat(1000));
  assert.equal((await c.messages.next()).data.length, 1000);
  c.ws.send(randomBytes(2048));
  assert.equal((await c.closed).code, 1009);
  await stillServes();
});

test('an unmasked client frame closes the connection with 1002', async () => {
  const socket = await rawConnect(server.port, '/echo');
  const code = serverCloseCode(socket);
  socket.write(frame(Opcode.text, Buffer.from('hello'), { mask: false }));
  assert.equal(await code, 1002);
  socket.destroy();
  await stillServes();
});

test('random bytes after the handshake close the connection with a protocol error', async () => {
  const socket = await rawConnect(server.port, '/tracked');
  const side = await nextTracked();
  const code = serverCloseCode(socket);
  // Reserved bits set and an unknown opcode: never a valid frame.
  socket.write(Buffer.concat([Buffer.from([0x7b, 0x85]), randomBytes(64)]));
  assert.equal(await code, 1002);
  socket.destroy();
  // The client never answered with a close frame, so the server sees 1006.
  assert.equal((await side.closed).code, 1006);
  if (!side.socket.destroyed) await once(side.socket, 'close');
  await stillServes();
});

test('a control frame split across fragments of a message is handled by ws', async () => {
  const socket = await rawConnect(server.port, '/echo');
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  socket.write(frame(Opcode.text, Buffer.from('hel'), { fin: false }));
  socket.write(frame(Opcode.ping, Buffer.from('p')));
  socket.write(frame(Opcode.continuation, Buffer.from('lo'), { fin: true }));
  socket.write(frame(Opcode.close, Buffer.from([0x03, 0xe8])));
  const code = await serverCloseCode(socket);
  socket.destroy();
  assert.equal(code, 1000);
  const all = Buffer.concat(received);
  // A pong with "p" and the echoed text "hello" came back before the close.
  assert.ok(all.includes(Buffer.from([0x8a, 0x01, 0x70])), 'pong frame');
  assert.ok(all.includes(Buffer.from([0x81, 0x05, ...Buffer.from('hello')])), 'echoed text frame');
});

test('an onConnection that throws is logged and the client is closed with 1011', async () => {
  const c = await openClient(url('/throws'));
  const closed = await c.closed;
  assert.equal(closed.code, 1011);
  assert.ok(logged.some((m) => m.includes('/throws')), 'the failure was logged');
  await stillServes();
});

test('a hundred concurrent connections echo independently', async () => {
  const clients = await Promise.all(Array.from({ length: 100 }, () => openClient(url('/echo'))));
  await Promise.all(
    clients.map(async (c, i) => {
      c.ws.send(`client ${i}`);
      assert.equal((await c.messages.next()).data.toString(), `client ${i}`);
      c.ws.close(1000);
      assert.equal((await c.closed).code, 1000);
    }),
  );
});
