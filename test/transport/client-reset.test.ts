/**
 * A client that resets its HTTP/2 stream right after sending request data: the
 * handler must see the reset (the body read fails, the signal fires with
 * ClientResetError), never a request body that ended cleanly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { ClientResetError, createRequestQueue, readBody, type Logger, type RequestQueue, type ServerRequest } from '../../src/index.js';

const quiet: Logger = { warn: () => undefined, error: () => undefined };

interface Seen {
  /** 'clean' when the body read finished without an error, else the error it threw. */
  readonly read: 'clean' | unknown;
  readonly bytes: number;
  readonly reason: unknown;
}

async function open(): Promise<{ queue: RequestQueue; port: number; seen: Promise<Seen> }> {
  const queue = await createRequestQueue({ urls: ['http://127.0.0.1:0/rst/'], backend: 'node', logger: quiet });
  const port = Number(/:(\d+)\//.exec(queue.urls[0]!)![1]);
  let report!: (s: Seen) => void;
  const seen = new Promise<Seen>((resolve) => (report = resolve));
  queue.serve(async (request: ServerRequest) => {
    let read: Seen['read'] = 'clean';
    let bytes = 0;
    try {
      bytes = (await readBody(request)).byteLength;
    } catch (err) {
      read = err;
    }
    const signal = request.signal;
    if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    report({ read, bytes, reason: signal.reason });
    return { status: 200, body: 'late' };
  });
  return { queue, port, seen };
}

function frame(type: number, flags: number, stream: number, payload: Uint8Array): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.byteLength, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

function literal(index: number, value: string): Buffer {
  // Literal header field without indexing, indexed name (RFC 7541 section 6.2.2), no Huffman.
  const v = Buffer.from(value);
  assert.ok(index < 15 && v.length < 127);
  return Buffer.concat([Buffer.from([index, v.length]), v]);
}

/** Preface, SETTINGS, HEADERS, DATA and RST_STREAM(CANCEL) written with one call, so they arrive together. */
async function sendThenReset(port: number, endStream: boolean): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const block = Buffer.concat([
    Buffer.from([0x83, 0x86]), // :method POST, :scheme http
    literal(4, '/rst/upload'), // :path
    literal(1, `127.0.0.1:${port}`), // :authority
  ]);
  const code = Buffer.alloc(4);
  code.writeUInt32BE(http2.constants.NGHTTP2_CANCEL);
  socket.write(
    Buffer.concat([
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      frame(0x4, 0, 0, new Uint8Array(0)),
      frame(0x1, 0x4, 1, block),
      frame(0x0, endStream ? 0x1 : 0, 1, Buffer.alloc(100, 7)),
      frame(0x3, 0, 1, code),
    ]),
  );
  return socket;
}

function assertReset(seen: Seen): void {
  assert.notEqual(seen.read, 'clean', `the body read ended cleanly (${seen.bytes} bytes) although the client reset the stream`);
  assert.ok(seen.read instanceof ClientResetError, `the body read failed with ${String(seen.read)}`);
  assert.equal(seen.read.code, http2.constants.NGHTTP2_CANCEL);
  assert.ok(seen.reason instanceof ClientResetError, `the signal fired with ${String(seen.reason)}`);
  assert.equal(seen.reason.code, http2.constants.NGHTTP2_CANCEL);
}

test('DATA then RST_STREAM(CANCEL): the body read fails with ClientResetError', async () => {
  const { queue, port, seen } = await open();
  const socket = await sendThenReset(port, false);
  try {
    assertReset(await seen);
  } finally {
    socket.destroy();
    await queue.close();
  }
});

test('DATA with END_STREAM then RST_STREAM(CANCEL): the reset is not taken for a clean end', async () => {
  const { queue, port, seen } = await open();
  const socket = await sendThenReset(port, true);
  try {
    assertReset(await seen);
  } finally {
    socket.destroy();
    await queue.close();
  }
});

test('a node:http2 client that writes and then cancels: the signal fires with ClientResetError(CANCEL)', async () => {
  const { queue, port, seen } = await open();
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  try {
    const req = client.request({ ':method': 'POST', ':path': '/rst/upload' });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(1000, 1));
    req.close(http2.constants.NGHTTP2_CANCEL);
    const s = await seen;
    // The reset may arrive after the data was read; the signal reports it either way.
    if (s.read !== 'clean') assert.ok(s.read instanceof ClientResetError, `the body read failed with ${String(s.read)}`);
    assert.ok(s.reason instanceof ClientResetError, `the signal fired with ${String(s.reason)}`);
    assert.equal(s.reason.code, http2.constants.NGHTTP2_CANCEL);
  } finally {
    client.destroy();
    await queue.close();
  }
});
