import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { webSocketHandler, type WebSocket } from '../../src/index.js';
import { startServer, type TestServer } from './helpers/server.js';
import { handshakeHeaders, openClient, rawHandshake, refusedClient } from './helpers/clients.js';

let server: TestServer;

function echo(ws: WebSocket): void {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

before(async () => {
  server = await startServer([
    webSocketHandler(echo, { path: '/echo' }),
    webSocketHandler(echo, { path: '/proto', protocols: ['chat.v1'] }),
    webSocketHandler(echo, { path: '/deflate', perMessageDeflate: true }),
    webSocketHandler(echo, {
      path: '/guarded',
      verifyClient: (req) =>
        req.headers['origin'] === 'https://good.example'
          ? true
          : req.headers['origin'] === 'https://teapot.example'
            ? { status: 418, body: 'no tea for you\n' }
            : false,
    }),
  ]);
});

after(async () => {
  await server.close();
});

/** After every refusal the same server must still accept and echo. */
async function stillServes(): Promise<void> {
  const c = await openClient(`ws://127.0.0.1:${server.port}/echo`);
  c.ws.send('still here');
  assert.equal((await c.messages.next()).data.toString(), 'still here');
  c.ws.close(1000);
  await c.closed;
}

test('the 101 carries the Sec-WebSocket-Accept computed from the client key', async () => {
  const key = Buffer.from('fedcba9876543210').toString('base64');
  const req = request({ host: '127.0.0.1', port: server.port, path: '/echo', headers: handshakeHeaders({ 'sec-websocket-key': key }), agent: false });
  req.end();
  const [res, socket] = (await once(req, 'upgrade')) as [import('node:http').IncomingMessage, Socket];
  socket.destroy();
  assert.equal(res.statusCode, 101);
  assert.equal(res.headers['upgrade']?.toLowerCase(), 'websocket');
  const expected = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  assert.equal(res.headers['sec-websocket-accept'], expected);
});

test('a missing Sec-WebSocket-Key is answered 400 with the reason', async () => {
  const r = await rawHandshake(server.port, '/echo', handshakeHeaders({ 'sec-websocket-key': undefined }));
  assert.equal(r.status, 400);
  assert.match(r.body, /missing Sec-WebSocket-Key/);
  await stillServes();
});

test('a key that is not 16 bytes of base64 is answered 400', async () => {
  for (const key of [Buffer.alloc(15).toString('base64'), Buffer.alloc(17).toString('base64'), 'not base64 at all!!!!!==']) {
    const r = await rawHandshake(server.port, '/echo', handshakeHeaders({ 'sec-websocket-key': key }));
    assert.equal(r.status, 400, key);
    assert.match(r.body, /Sec-WebSocket-Key must be 16 bytes/);
  }
  await stillServes();
});

test('an unsupported Sec-WebSocket-Version is answered 426 naming version 13', async () => {
  for (const version of ['8', '14', undefined]) {
    const r = await rawHandshake(server.port, '/echo', handshakeHeaders({ 'sec-websocket-version': version }));
    assert.equal(r.status, 426, String(version));
    assert.equal(r.headers['sec-websocket-version'], '13');
    assert.match(r.body, /Sec-WebSocket-Version/);
  }
  await stillServes();
});

test('a POST handshake is answered 400', async () => {
  const r = await rawHandshake(server.port, '/echo', handshakeHeaders(), 'POST');
  assert.equal(r.status, 400);
  assert.match(r.body, /must use GET, not POST/);
  await stillServes();
});

test('a handshake with a body is answered 400', async () => {
  const r = await rawHandshake(server.port, '/echo', handshakeHeaders({ 'content-length': '5' }), 'GET', 'hello');
  assert.equal(r.status, 400);
  assert.match(r.body, /must not have a body/);
  await stillServes();
});

test('Connection without "upgrade" is answered 400', async () => {
  const r = await rawHandshake(server.port, '/echo', handshakeHeaders({ connection: 'keep-alive', upgrade: 'websocket' }));
  assert.equal(r.status, 400);
  assert.match(r.body, /Connection header must contain "Upgrade"/);
  await stillServes();
});

test('an Upgrade to another protocol is not taken by the WebSocket handler', async () => {
  const r = await rawHandshake(server.port, '/echo', handshakeHeaders({ upgrade: 'h2c', 'sec-websocket-key': undefined, 'sec-websocket-version': undefined }));
  assert.equal(r.status, 404);
  await stillServes();
});

test('a client offering only unknown subprotocols is refused with 400 and the reason', async () => {
  const r = await rawHandshake(server.port, '/proto', handshakeHeaders({ 'sec-websocket-protocol': 'mqtt, stomp' }));
  assert.equal(r.status, 400);
  assert.match(r.body, /none of the offered subprotocols \(mqtt, stomp\) is supported; this endpoint speaks chat\.v1/);
  assert.equal(await refusedClient(`ws://127.0.0.1:${server.port}/proto`, ['mqtt']), 400);
  await stillServes();
});

test('a malformed Sec-WebSocket-Protocol is refused with 400', async () => {
  const r = await rawHandshake(server.port, '/proto', handshakeHeaders({ 'sec-websocket-protocol': 'chat.v1, chat.v1' }));
  assert.equal(r.status, 400);
  assert.match(r.body, /invalid Sec-WebSocket-Protocol/);
});

test('a malformed or unacceptable permessage-deflate offer is refused with 400', async () => {
  const bad = await rawHandshake(server.port, '/deflate', handshakeHeaders({ 'sec-websocket-extensions': 'permessage-deflate; =' }));
  assert.equal(bad.status, 400);
  assert.match(bad.body, /invalid Sec-WebSocket-Extensions/);
  const unacceptable = await rawHandshake(
    server.port,
    '/deflate',
    handshakeHeaders({ 'sec-websocket-extensions': 'permessage-deflate; server_max_window_bits=99' }),
  );
  assert.equal(unacceptable.status, 400);
  assert.match(unacceptable.body, /permessage-deflate/);
  await stillServes();
});

test('verifyClient can accept, refuse with 401, or answer with its own response', async () => {
  const base = `ws://127.0.0.1:${server.port}/guarded`;
  const ok = await openClient(base, [], { origin: 'https://good.example' });
  ok.ws.send('hi');
  assert.equal((await ok.messages.next()).data.toString(), 'hi');
  ok.ws.close(1000);
  await ok.closed;
  const refused = await rawHandshake(server.port, '/guarded', handshakeHeaders({ origin: 'https://evil.example' }));
  assert.equal(refused.status, 401);
  assert.match(refused.body, /refused/);
  const teapot = await rawHandshake(server.port, '/guarded', handshakeHeaders({ origin: 'https://teapot.example' }));
  assert.equal(teapot.status, 418);
  assert.equal(teapot.body, 'no tea for you\n');
  // A malformed handshake is refused before the application is asked.
  const malformed = await rawHandshake(server.port, '/guarded', handshakeHeaders({ origin: 'https://good.example', 'sec-websocket-key': 'short' }));
  assert.equal(malformed.status, 400);
});
