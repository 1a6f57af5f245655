import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { createRequestQueue, type HandlerResult, type Logger, type RequestQueue } from '../../src/index.js';

function quietLogger(): Logger & { errors: unknown[] } {
  const errors: unknown[] = [];
  return { errors, warn: () => undefined, error: (m, d) => errors.push([m, d]) };
}

async function open(): Promise<{ queue: RequestQueue; port: number; log: ReturnType<typeof quietLogger> }> {
  const log = quietLogger();
  const queue = await createRequestQueue({ urls: ['http://localhost:0/api/'], backend: 'node', logger: log });
  const port = Number(/:(\d+)\//.exec(queue.urls[0]!)![1]);
  queue.serve(async (req): Promise<HandlerResult> => {
    switch (req.path) {
      case '/api/echo':
        return { status: 200, headers: { 'x-method': req.method }, body: req.body, trailers: () => ({ 'x-end': 'done' }) };
      case '/api/reset':
        return { reset: 0xb };
      case '/api/throw':
        throw new Error('internal detail 42');
      case '/api/upgrade':
        return { status: 101, headers: { connection: 'upgrade', upgrade: 'echo' }, upgrade: (s) => s.pipe(s) };
      default:
        return undefined;
    }
  });
  return { queue, port, log };
}

test('HTTP/1.1 echo, 404 after the last handler, 500 without internals', async () => {
  const { queue, port, log } = await open();
  try {
    const r = await fetch(`http://localhost:${port}/api/echo`, { method: 'PUT', body: 'hello' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-method'), 'PUT');
    assert.equal(await r.text(), 'hello');
    const missing = await fetch(`http://localhost:${port}/api/none`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
    const outside = await fetch(`http://localhost:${port}/elsewhere/`);
    assert.equal(outside.status, 404);
    await outside.arrayBuffer();
    const failed = await fetch(`http://localhost:${port}/api/throw`);
    assert.equal(failed.status, 500);
    const text = await failed.text();
    assert.doesNotMatch(text, /42|internal detail/);
    assert.equal(log.errors.length, 1);
  } finally {
    await queue.close();
  }
});

test('h2c prior knowledge: trailers and reset codes reach a real HTTP/2 client', async () => {
  const { queue, port } = await open();
  const client = http2.connect(`http://localhost:${port}`);
  try {
    const echoed = await new Promise<{ body: string; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
      const s = client.request({ ':method': 'POST', ':path': '/api/echo' });
      let body = '';
      let trailers: http2.IncomingHttpHeaders = {};
      s.setEncoding('utf8');
      s.on('data', (d: string) => (body += d));
      s.on('trailers', (t) => (trailers = t));
      s.on('end', () => resolve({ body, trailers }));
      s.on('error', reject);
      s.end('over h2');
    });
    assert.equal(echoed.body, 'over h2');
    assert.equal(echoed.trailers['x-end'], 'done');
    const code = await new Promise<number>((resolve) => {
      const s = client.request({ ':path': '/api/reset' });
      s.on('error', () => undefined);
      s.on('close', () => resolve(s.rstCode ?? -1));
      s.resume();
    });
    assert.equal(code, 0xb);
  } finally {
    client.close();
    await queue.close();
  }
});

test('HTTP/1.1 upgrade hands over the socket with the early bytes first', async () => {
  const { queue, port } = await open();
  try {
    const got = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      let text = '';
      s.on('error', reject);
      s.on('data', (d) => {
        text += d.toString('latin1');
        if (text.includes('\r\n\r\nfirst') && text.endsWith('second')) {
          s.destroy();
          resolve(text);
        } else if (text.endsWith('first')) s.write('second');
      });
      s.write('GET /api/upgrade HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nfirst');
    });
    assert.match(got, /^HTTP\/1\.1 101 /);
    assert.match(got, /\r\n\r\nfirstsecond$/);
  } finally {
    await queue.close();
  }
});

test('an upgrade request the handler declines gets a plain answer on the socket, then the connection closes', async () => {
  const log = quietLogger();
  const queue = await createRequestQueue({ urls: ['http://localhost:0/api/'], backend: 'node', logger: log });
  const port = Number(/:(\d+)\//.exec(queue.urls[0]!)![1]);
  queue.serve((req): HandlerResult => {
    assert.equal(req.capabilities.upgrade, true);
    if (req.path === '/api/refuse') return { status: 400, headers: { 'x-why': 'bad handshake' }, body: 'refused' };
    return undefined;
  });
  const talk = (text: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      let out = '';
      s.on('data', (d) => (out += d.toString('latin1')));
      s.on('close', () => resolve(out));
      s.on('error', reject);
      s.write(text);
    });
  try {
    const refused = await talk('GET /api/refuse HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.match(refused, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(refused, /\r\nx-why: bad handshake\r\n/);
    assert.match(refused, /\r\n\r\nrefused$/);
    const missing = await talk('GET /api/none HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.match(missing, /^HTTP\/1\.1 404 /);
    const outside = await talk('GET /nowhere/ HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.match(outside, /^HTTP\/1\.1 404 /);
    assert.equal(log.errors.length, 0);
    assert.equal(queue.stats().inFlight, 0);
  } finally {
    await queue.close();
  }
});
