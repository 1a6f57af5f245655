import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import {
  chunkFrame,
  flattenTrailers,
  lastChunk,
  prepareResponseHeaders,
  type ResponseContext,
} from '../../src/transport/httpsys/response-headers.js';

const h11: ResponseContext = { method: 'GET', httpVersion: '1.1', http2: false, status: 200, mode: 'stream' };
const h2: ResponseContext = { method: 'POST', httpVersion: '2.0', http2: true, status: 200, mode: 'stream' };

function pairs(flat: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

test('repeated known headers share one slot, joined with ", "', () => {
  const p = prepareResponseHeaders(
    [
      ['Vary', 'accept'],
      ['x-a', '1'],
      ['vary', 'origin'],
      ['x-a', '2'],
      ['content-length', '3'],
    ],
    h11,
  );
  assert.deepEqual(pairs(p.flat), [
    ['vary', 'accept, origin'],
    ['x-a', '1'],
    ['x-a', '2'],
    ['content-length', '3'],
  ]);
  assert.equal(p.chunked, false);
});

test('set-cookie and authentication challenges are never joined', () => {
  const p = prepareResponseHeaders(
    [
      ['set-cookie', 'a=1; Path=/'],
      ['set-cookie', 'b=2, c'],
      ['www-authenticate', 'Basic realm="x"'],
      ['www-authenticate', 'Bearer'],
      ['content-length', '0'],
    ],
    h11,
  );
  assert.deepEqual(pairs(p.flat), [
    ['set-cookie', 'a=1; Path=/'],
    ['set-cookie', 'b=2, c'],
    ['www-authenticate', 'Basic realm="x"'],
    ['www-authenticate', 'Bearer'],
    ['content-length', '0'],
  ]);
});

test('HTTP/1.1 streams without a length are chunk-framed; HTTP/1.0 closes instead', () => {
  const a = prepareResponseHeaders([['content-type', 'text/plain']], h11);
  assert.equal(a.chunked, true);
  assert.deepEqual(pairs(a.flat).at(-1), ['transfer-encoding', 'chunked']);
  const b = prepareResponseHeaders([['transfer-encoding', 'chunked']], h11);
  assert.equal(b.chunked, true);
  assert.equal(pairs(b.flat).filter(([n]) => n === 'transfer-encoding').length, 1);
  const c = prepareResponseHeaders([], { ...h11, httpVersion: '1.0' });
  assert.equal(c.chunked, false);
  assert.equal(c.closeAfter, true);
  assert.deepEqual(pairs(c.flat), [['connection', 'close']]);
});

test('an HTTP/1.0 client never gets chunk framing, even when the handler asks for it', () => {
  const p = prepareResponseHeaders(
    [
      ['transfer-encoding', 'chunked'],
      ['connection', 'keep-alive'],
      ['content-type', 'text/plain'],
    ],
    { ...h11, httpVersion: '1.0' },
  );
  assert.equal(p.chunked, false);
  assert.equal(p.closeAfter, true);
  assert.deepEqual(pairs(p.flat), [
    ['content-type', 'text/plain'],
    ['connection', 'close'],
  ]);
});

test('HTTP/2 drops connection-specific fields and never chunk-frames', () => {
  const p = prepareResponseHeaders(
    [
      ['connection', 'keep-alive'],
      ['keep-alive', 'timeout=5'],
      ['transfer-encoding', 'chunked'],
      ['upgrade', 'h2c'],
      ['content-type', 'application/grpc'],
    ],
    h2,
  );
  assert.deepEqual(pairs(p.flat), [['content-type', 'application/grpc']]);
  assert.equal(p.chunked, false);
  assert.equal(p.closeAfter, false);
});

test('whole responses carry their length unless the handler gave one', () => {
  assert.deepEqual(pairs(prepareResponseHeaders([], { ...h11, mode: 'whole', length: 5 }).flat), [['content-length', '5']]);
  assert.deepEqual(pairs(prepareResponseHeaders([['content-length', '5']], { ...h11, mode: 'whole', length: 5 }).flat), [
    ['content-length', '5'],
  ]);
  const te = prepareResponseHeaders([['transfer-encoding', 'chunked']], { ...h11, mode: 'whole', length: 2 });
  assert.deepEqual(pairs(te.flat), [['content-length', '2']]);
});

test('HEAD, 1xx, 204 and 304 responses have no body and no framing', () => {
  for (const ctx of [
    { ...h11, method: 'HEAD' },
    { ...h11, status: 204 },
    { ...h11, status: 304 },
    { ...h11, status: 103 },
  ]) {
    const p = prepareResponseHeaders([], ctx);
    assert.equal(p.bodyAllowed, false, JSON.stringify(ctx));
    assert.equal(p.chunked, false);
    assert.deepEqual(p.flat, []);
  }
  assert.deepEqual(pairs(prepareResponseHeaders([['content-length', '9']], { ...h11, status: 204 }).flat), []);
});

test('bad header names and values are refused with TypeError', () => {
  assert.throws(() => prepareResponseHeaders([['bad name', 'x']], h11), TypeError);
  assert.throws(() => prepareResponseHeaders([['x', 'a\r\nInjected: 1']], h11), TypeError);
  assert.throws(() => prepareResponseHeaders([['x', 'nul\0']], h11), TypeError);
  assert.throws(() => flattenTrailers([['grpc-message', 'line\nbreak']]), TypeError);
  // Pseudo-headers are dropped, not refused.
  assert.deepEqual(prepareResponseHeaders([[':status', '200'], ['content-length', '0']], h11).flat, ['content-length', '0']);
});

test('trailers are lower-cased and connection-specific ones dropped', () => {
  assert.deepEqual(flattenTrailers([['Grpc-Status', '0'], ['connection', 'close'], ['grpc-message', 'ok']]), [
    'grpc-status',
    '0',
    'grpc-message',
    'ok',
  ]);
});

test('chunk framing is read back by a real HTTP client', async () => {
  const pieces = [new TextEncoder().encode('hello '), new Uint8Array(70_000).fill(0x61), new TextEncoder().encode('!')];
  const server = createServer((socket) => {
    socket.once('data', () => {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n');
      for (const p of pieces) for (const part of chunkFrame(p)) socket.write(part);
      socket.end(lastChunk());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    const body = await new Promise<Buffer>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(body.byteLength, 6 + 70_000 + 1);
    assert.equal(body.subarray(0, 6).toString(), 'hello ');
    assert.equal(body.at(-1), 0x21);
    assert.ok(body.subarray(6, 70_006).every((b) => b === 0x61));
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
