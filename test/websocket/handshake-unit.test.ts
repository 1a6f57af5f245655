/** The handshake rules as pure functions over a request value (no server needed for these). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptWebSocket, webSocketAcceptValue } from '../../src/index.js';
import type { Capabilities, ServerRequest, ServerResponse } from '../../src/transport/types.js';

function requestWith(headers: Record<string, string>, overrides: Partial<ServerRequest> = {}, caps: Partial<Capabilities> = {}): ServerRequest {
  return {
    method: 'GET',
    url: '/ws',
    path: '/ws',
    query: '',
    host: 'localhost',
    headers,
    rawHeaders: Object.entries(headers),
    httpVersion: '1.1',
    remoteAddress: '127.0.0.1',
    remotePort: 50000,
    localAddress: '127.0.0.1',
    localPort: 8080,
    secure: false,
    prefix: 'http://+:8080/',
    body: (async function* () {})(),
    signal: new AbortController().signal,
    capabilities: { trailers: false, reset: false, upgrade: true, http2: false, streaming: true, ...caps },
    ...overrides,
  };
}

const good = {
  host: 'localhost',
  upgrade: 'websocket',
  connection: 'Upgrade',
  'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
  'sec-websocket-version': '13',
};

async function bodyText(r: ServerResponse): Promise<string> {
  return typeof r.body === 'string' ? r.body : '';
}

test('Sec-WebSocket-Accept matches the example of RFC 6455 section 1.3', () => {
  assert.equal(webSocketAcceptValue('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  const r = acceptWebSocket(requestWith(good));
  assert.equal(r.status, 101);
  assert.deepEqual(r.headers, {
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-accept': 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
  });
});

test('header tokens are matched case-insensitively inside lists', () => {
  const r = acceptWebSocket(requestWith({ ...good, upgrade: 'WebSocket', connection: 'keep-alive, UPGRADE' }));
  assert.equal(r.status, 101);
});

test('an exchange whose transport cannot upgrade gets 501 with the reason', async () => {
  const r = acceptWebSocket(requestWith(good, {}, { upgrade: false })) as ServerResponse;
  assert.equal(r.status, 501);
  assert.match(await bodyText(r), /cannot switch connections to WebSocket/);
});

test('a malformed handshake is refused as malformed even where upgrades are unavailable', () => {
  const r = acceptWebSocket(requestWith({ ...good, 'sec-websocket-key': 'x' }, {}, { upgrade: false }));
  assert.equal(r.status, 400);
});

test('HTTP/2 requests get 505 before anything else is looked at', async () => {
  const r = acceptWebSocket(requestWith({}, { httpVersion: '2.0', method: 'CONNECT' }, { http2: true, upgrade: false })) as ServerResponse;
  assert.equal(r.status, 505);
  assert.match(await bodyText(r), /HTTP\/1\.1/);
});

test('handleProtocols picks the subprotocol, may decline, and may not invent one', async () => {
  const req = requestWith({ ...good, 'sec-websocket-protocol': 'a, b' });
  const picked = acceptWebSocket(req, { handleProtocols: (offered) => ([...offered].includes('b') ? 'b' : false) });
  assert.equal((picked.headers as Record<string, string>)['sec-websocket-protocol'], 'b');
  const declined = acceptWebSocket(req, { handleProtocols: () => false });
  assert.equal(declined.status, 101);
  assert.equal((declined.headers as Record<string, string>)['sec-websocket-protocol'], undefined);
  const invented = acceptWebSocket(req, { handleProtocols: () => 'c' }) as ServerResponse;
  assert.equal(invented.status, 500);
  assert.match(await bodyText(invented), /"c", which the client did not offer/);
});

test('permessage-deflate parameters are negotiated by ws and echoed in the 101', () => {
  const req = requestWith({ ...good, 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits, x-unknown' });
  const on = acceptWebSocket(req, { perMessageDeflate: { serverNoContextTakeover: true, clientMaxWindowBits: 10 } });
  assert.equal(
    (on.headers as Record<string, string>)['sec-websocket-extensions'],
    'permessage-deflate; client_max_window_bits=10; server_no_context_takeover',
  );
  const off = acceptWebSocket(req);
  assert.equal((off.headers as Record<string, string>)['sec-websocket-extensions'], undefined);
});

test('an upgrade whose connection is already gone never reaches onConnection', async () => {
  const { PassThrough } = await import('node:stream');
  let called = false;
  const r = acceptWebSocket(requestWith(good), { onConnection: () => (called = true) });
  assert.ok('upgrade' in r);
  const stream = new PassThrough();
  stream.destroy();
  r.upgrade(stream);
  assert.equal(called, false);
});

test('misconfigured options fail where they are made', async () => {
  const { webSocketHandler } = await import('../../src/index.js');
  const noop = (): void => {};
  assert.throws(() => webSocketHandler(noop, { maxPayload: 0 }), RangeError);
  assert.throws(() => webSocketHandler(noop, { maxPayload: 2 ** 32 }), RangeError);
  assert.throws(() => webSocketHandler(noop, { closeTimeout: -1 }), RangeError);
  assert.throws(() => webSocketHandler(noop, { protocols: [''] }), TypeError);
  assert.throws(() => webSocketHandler(noop, { path: 'chat' }), /must start with "\/"/);
  assert.throws(() => webSocketHandler(undefined as unknown as typeof noop), TypeError);
  assert.doesNotThrow(() => webSocketHandler(noop, { maxPayload: Infinity, path: ['/a', '/b'] }));
  assert.throws(() => acceptWebSocket(requestWith(good), { maxPayload: 1.5 }), RangeError);
});
