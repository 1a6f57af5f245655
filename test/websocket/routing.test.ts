import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, constants } from 'node:http2';
import { connect as tcpConnect } from 'node:net';
import { once } from 'node:events';
import { webSocketHandler } from '../../src/index.js';
import type { Handler } from '../../src/transport/types.js';
import { startServer, type TestServer } from './helpers/server.js';
import { handshakeHeaders, openClient, rawHandshake, refusedClient } from './helpers/clients.js';

let server: TestServer;

const hello: Handler = (request) =>
  request.path === '/hello' || request.path === '/upper'
    ? { status: 200, headers: { 'content-type': 'text/plain' }, body: `plain http on ${request.path}` }
    : undefined;

before(async () => {
  server = await startServer([
    webSocketHandler((ws) => ws.on('message', (d) => ws.send(d.toString().toUpperCase())), { path: '/upper' }),
    webSocketHandler((ws) => ws.on('message', (d) => ws.send([...d.toString()].reverse().join(''))), { path: ['/reverse', '/backwards'] }),
    hello,
  ]);
});

after(async () => {
  await server.close();
});

const url = (path: string): string => `ws://127.0.0.1:${server.port}${path}`;

test('two WebSocket paths and a plain HTTP handler share one queue', async () => {
  const upper = await openClient(url('/upper'));
  const reverse = await openClient(url('/reverse'));
  const backwards = await openClient(url('/backwards?x=1'));
  upper.ws.send('shout');
  reverse.ws.send('stressed');
  backwards.ws.send('drawer');
  assert.equal((await upper.messages.next()).data.toString(), 'SHOUT');
  assert.equal((await reverse.messages.next()).data.toString(), 'desserts');
  assert.equal((await backwards.messages.next()).data.toString(), 'reward');

  const res = await fetch(`http://127.0.0.1:${server.port}/hello`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'plain http on /hello');

  for (const c of [upper, reverse, backwards]) {
    c.ws.close(1000);
    await c.closed;
  }
});

test('a plain GET on a WebSocket path passes to the next handler', async () => {
  const res = await fetch(`http://127.0.0.1:${server.port}/upper`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'plain http on /upper');
});

test('a WebSocket handshake for a path nobody serves gets 404', async () => {
  assert.equal(await refusedClient(url('/nowhere')), 404);
});

test('an HTTP/2 request for a WebSocket path is answered 505 with the reason', async () => {
  const session = connect(`http://127.0.0.1:${server.port}`);
  session.on('error', () => {});
  const stream = session.request({
    [constants.HTTP2_HEADER_PATH]: '/upper',
    'sec-websocket-version': '13',
    'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
  });
  const [headers] = (await once(stream, 'response')) as [Record<string, string | number>];
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  session.close();
  assert.equal(headers[constants.HTTP2_HEADER_STATUS], 505);
  assert.match(Buffer.concat(chunks).toString(), /need HTTP\/1\.1/);
});

test('an HTTP/1.0 handshake is refused with 400', async () => {
  const socket = tcpConnect(server.port, '127.0.0.1');
  await once(socket, 'connect');
  const lines = Object.entries(handshakeHeaders()).map(([k, v]) => `${k}: ${v}`);
  socket.end(['GET /upper HTTP/1.0', 'host: 127.0.0.1', ...lines, '', ''].join('\r\n'));
  const chunks: Buffer[] = [];
  for await (const c of socket) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString();
  assert.match(text, /^HTTP\/1\.[01] 400 /);
  assert.match(text, /needs HTTP\/1\.1, not HTTP\/1\.0/);
});

test('a plain request to a WebSocket path that nobody else serves gets 404, and handshakes still work after', async () => {
  const r = await rawHandshake(server.port, '/reverse', { accept: 'text/html' });
  assert.equal(r.status, 404);
  const c = await openClient(url('/reverse'));
  c.ws.send('abc');
  assert.equal((await c.messages.next()).data.toString(), 'cba');
  c.ws.close(1000);
  await c.closed;
});
