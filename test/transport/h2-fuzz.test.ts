/**
 * Arbitrary frame sequences against the portable backend's HTTP/2 engine:
 * whatever a client sends after the preface ends in answers, stream resets or
 * a GOAWAY, never an uncaught exception, and the server keeps serving new
 * connections. Each run also checks that no stream is left behind in a
 * handler once the connection is gone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { createRequestQueue, readBody, type Logger, type RequestQueue } from '../../src/index.js';
import { PREFACE, encodeFields, frame, freshStatus, requestFields, settings } from './h2-frames.js';

const quiet: Logger = { warn: () => undefined, error: () => undefined };

let queue: RequestQueue;
let port = 0;
let running = 0;

before(async () => {
  queue = await createRequestQueue({ urls: ['http://127.0.0.1:0/f/'], backend: 'node', logger: quiet });
  port = Number(/:(\d+)\//.exec(queue.urls[0]!)![1]);
  queue.serve(async (request) => {
    running++;
    try {
      const body = await readBody(request);
      return { status: 200, headers: { 'x-bytes': String(body.byteLength) }, body: 'ok', trailers: { 'x-done': '1' } };
    } finally {
      running--;
    }
  });
});

after(async () => {
  await queue.close();
});

/** Send `bytes` after a valid preface and SETTINGS, read until the server closes or goes quiet, then close. */
async function throwAt(bytes: Buffer): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(Buffer.concat([PREFACE, settings(), bytes]));
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 60);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  socket.destroy();
}

async function stillServes(): Promise<void> {
  assert.equal(await freshStatus(port, { ':method': 'POST', ':path': '/f/check' }, 'x'), 200);
}

async function settle(): Promise<void> {
  for (let i = 0; i < 100 && running > 0; i++) await new Promise((r) => setTimeout(r, 10));
}

const frameArb = fc.record({
  type: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 10, max: 255 })),
  flags: fc.integer({ min: 0, max: 255 }),
  stream: fc.oneof(fc.constantFrom(0, 1, 3, 5), fc.integer({ min: 0, max: 0x7fffffff })),
  payload: fc.uint8Array({ maxLength: 64 }),
});

test('random frames after the preface never break the server', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(frameArb, { minLength: 1, maxLength: 12 }), async (frames) => {
      await throwAt(Buffer.concat(frames.map((f) => frame(f.type, f.flags, f.stream, f.payload))));
    }),
    { numRuns: 150 },
  );
  await settle();
  assert.equal(running, 0, 'handlers still running after every connection closed');
  await stillServes();
});

test('valid requests mixed with random frames never break the server', async () => {
  const block = encodeFields(requestFields(0, 'POST', '/f/mixed'));
  const valid = fc.integer({ min: 0, max: 20 }).map((n) => {
    const id = 2 * n + 1;
    return Buffer.concat([frame(0x1, 0x4, id, block), frame(0x0, 0x1, id, Buffer.from('body'))]);
  });
  const noise = frameArb.map((f) => frame(f.type, f.flags, f.stream, f.payload));
  await fc.assert(
    fc.asyncProperty(fc.array(fc.oneof(valid, noise), { minLength: 1, maxLength: 16 }), async (parts) => {
      await throwAt(Buffer.concat(parts));
    }),
    { numRuns: 150 },
  );
  await settle();
  assert.equal(running, 0, 'handlers still running after every connection closed');
  await stillServes();
});

test('random bytes after the preface never break the server', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 400 }), async (bytes) => {
      await throwAt(Buffer.from(bytes));
    }),
    { numRuns: 100 },
  );
  await stillServes();
});

test('a mutated valid request stream never breaks the server', async () => {
  const block = encodeFields(requestFields(0, 'POST', '/f/mut', [['x-a', 'b']]));
  const base = Buffer.concat([frame(0x1, 0x4, 1, block), frame(0x0, 0, 1, Buffer.alloc(30, 1)), frame(0x0, 0x1, 1, Buffer.alloc(5, 2))]);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), async (edits) => {
      const copy = Buffer.from(base);
      for (const [at, value] of edits) copy[at] = value;
      await throwAt(copy);
    }),
    { numRuns: 150 },
  );
  await settle();
  assert.equal(running, 0, 'handlers still running after every connection closed');
  await stillServes();
});
