import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createRequestQueue } from '../../src/index.js';

test('HTTP/2: an idle connection closes after the idle timeout, a quiet open stream keeps it', async () => {
  const queue = await createRequestQueue({
    urls: ['http://+:0/idle/'],
    backend: 'node',
    limits: { timeouts: { idleConnection: 1 } },
  });
  queue.serve(async (request) => {
    const ms = Number(new URLSearchParams(request.query).get('ms') ?? '0');
    // Quiet for longer than the idle timeout: no frames at all while waiting.
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { status: 200, body: 'done' };
  });
  const port = Number(/:(\d+)\//.exec(queue.urls[0]!)![1]);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  try {
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    const body = await new Promise<string>((resolve, reject) => {
      const s = session.request({ ':path': '/idle/wait?ms=2500' });
      let text = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => (text += d));
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
    assert.equal(body, 'done', 'the stream outlived the idle timeout');
    // With nothing open any more, the server closes the connection by itself.
    await closed;
    assert.equal(queue.stats().inFlight, 0);
  } finally {
    session.destroy();
    await queue.close();
  }
});
