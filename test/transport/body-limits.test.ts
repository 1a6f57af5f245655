/**
 * Request body limits: the queue sets none unless told (long-lived streams must
 * not be capped), a configured limit still answers 413, and readBody() keeps a
 * limit of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createRequestQueue, readBody, RequestBodyTooLargeError, type Logger, type RequestQueue } from '../../src/index.js';

const quiet: Logger = { warn: () => undefined, error: () => undefined };
const MiB = 1024 * 1024;

async function open(limits?: { maxRequestBodyBytes?: number }): Promise<{ queue: RequestQueue; port: number }> {
  const queue = await createRequestQueue({ urls: ['http://127.0.0.1:0/lim/'], backend: 'node', logger: quiet, ...(limits ? { limits } : {}) });
  queue.serve(async (request) => {
    if (request.path === '/lim/count') {
      let n = 0;
      for await (const chunk of request.body) n += chunk.byteLength;
      return { status: 200, body: String(n) };
    }
    if (request.path === '/lim/read') {
      const limit = request.query === '' ? undefined : Number(request.query);
      const body = await readBody(request, limit);
      return { status: 200, body: String(body.byteLength) };
    }
    return undefined;
  });
  return { queue, port: Number(/:(\d+)\//.exec(queue.urls[0]!)![1]) };
}

/** POST `total` bytes in 1 MiB chunks on one HTTP/2 stream (no content-length), honouring backpressure. */
async function post(port: number, path: string, total: number): Promise<{ status: number; body: string }> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  try {
    return await new Promise((resolve, reject) => {
      const req = client.request({ ':method': 'POST', ':path': path });
      let status = 0;
      let body = '';
      req.on('response', (h) => (status = Number(h[':status'])));
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => resolve({ status, body }));
      req.on('error', reject);
      const chunk = Buffer.alloc(MiB, 0x61);
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          const n = Math.min(MiB, total - sent);
          sent += n;
          if (!req.write(n === MiB ? chunk : chunk.subarray(0, n))) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
  } finally {
    client.close();
  }
}

test('with no limit configured, one stream carries more than 64 MiB to the handler', async () => {
  const { queue, port } = await open();
  try {
    const total = 64 * MiB + 12345;
    const r = await post(port, '/lim/count', total);
    assert.equal(r.status, 200);
    assert.equal(r.body, String(total));
  } finally {
    await queue.close();
  }
});

test('a configured limit still refuses a longer streamed body with 413', async () => {
  const { queue, port } = await open({ maxRequestBodyBytes: MiB });
  try {
    const ok = await post(port, '/lim/count', MiB);
    assert.equal(ok.status, 200);
    assert.equal(ok.body, String(MiB));
    const over = await post(port, '/lim/count', 3 * MiB);
    assert.equal(over.status, 413);
  } finally {
    await queue.close();
  }
});

test('readBody() has a limit of its own: a longer body gets 413 through the handler, within it the bytes arrive', async () => {
  const { queue, port } = await open();
  try {
    assert.deepEqual(await post(port, '/lim/read?1000', 1000), { status: 200, body: '1000' });
    const over = await post(port, '/lim/read?1000', 1001);
    assert.equal(over.status, 413);
  } finally {
    await queue.close();
  }
});

test('readBody() without a limit stops past 64 MiB with RequestBodyTooLargeError', async () => {
  async function* chunks(count: number): AsyncGenerator<Uint8Array> {
    const c = new Uint8Array(MiB);
    for (let i = 0; i < count; i++) yield c;
  }
  const atLimit = await readBody({ body: chunks(64) });
  assert.equal(atLimit.byteLength, 64 * MiB);
  await assert.rejects(readBody({ body: chunks(65) }), (err: unknown) => {
    assert.ok(err instanceof RequestBodyTooLargeError);
    assert.equal(err.limit, 64 * MiB);
    assert.equal(err.status, 413);
    return true;
  });
  const beyond = await readBody({ body: chunks(65) }, Infinity);
  assert.equal(beyond.byteLength, 65 * MiB);
  await assert.rejects(readBody({ body: chunks(1) }, -1), RangeError);
});
