import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import {
  BackendUnavailableError,
  HttpError,
  UrlPrefixError,
  createRequestQueue,
  type HandlerResult,
  type Logger,
  type RequestQueue,
  type ServerRequest,
} from '../../src/index.js';

interface Recorded extends Logger {
  errors: string[];
  warns: string[];
}
function recorder(): Recorded {
  const errors: string[] = [];
  const warns: string[] = [];
  return { errors, warns, warn: (m) => warns.push(m), error: (m) => errors.push(m) };
}

function portOf(queue: RequestQueue): number {
  return Number(/:(\d+)\//.exec(queue.urls[0]!)![1]);
}

function get(port: number, path: string, options: { method?: string; headers?: http.OutgoingHttpHeaders; version10?: boolean } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; trailers: NodeJS.Dict<string> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: false, headers: options.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, trailers: res.trailers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('close', () => resolve(out));
    s.on('error', (e) => (out ? resolve(out) : reject(e)));
    s.write(text);
  });
}

test('options are checked before anything opens', async () => {
  await assert.rejects(createRequestQueue({ urls: ['http://+:8080/api'], backend: 'node' }), UrlPrefixError);
  await assert.rejects(createRequestQueue({ urls: ['http://+:0/'], backend: 'nope' as 'node' }), TypeError);
  await assert.rejects(createRequestQueue({ urls: ['http://+:0/'], backend: 'node', mode: 'attach' }), BackendUnavailableError);
  await assert.rejects(createRequestQueue({ urls: 'http://+:0/' as unknown as string[], backend: 'node' }), TypeError);
  await assert.rejects(createRequestQueue({ urls: ['http://+:0/'], backend: 'httpsys' }), (err: unknown) => err instanceof Error);
});

test('a prefix registered by one queue is refused to another until it closes; the port is released after the last queue', async () => {
  const a = await createRequestQueue({ urls: ['http://+:0/shared/'], backend: 'node', logger: recorder() });
  const port = portOf(a);
  await assert.rejects(createRequestQueue({ urls: [`http://+:${port}/shared/`], backend: 'node' }), /already registered/);
  await assert.rejects(createRequestQueue({ urls: [`https://+:${port}/x/`], backend: 'node' }), /already serves http:\/\//);
  const b = await createRequestQueue({ urls: [`http://+:${port}/other/`], backend: 'node', logger: recorder() });
  a.serve(() => ({ status: 200, body: 'a' }));
  b.serve(() => ({ status: 200, body: 'b' }));
  assert.equal((await get(port, '/shared/')).body, 'a');
  assert.equal((await get(port, '/other/')).body, 'b');
  await a.close();
  assert.equal((await get(port, '/shared/')).status, 404, 'a closed queue no longer gets requests');
  assert.equal((await get(port, '/other/')).body, 'b');
  const c = await createRequestQueue({ urls: [`http://+:${port}/shared/`], backend: 'node', logger: recorder() });
  c.serve(() => ({ status: 200, body: 'c' }));
  assert.equal((await get(port, '/shared/')).body, 'c');
  await Promise.all([b.close(), c.close()]);
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(port, () => probe.close(() => resolve()));
  });
});

test('addUrl and removeUrl change what a queue serves', async () => {
  const q = await createRequestQueue({ urls: ['http://+:0/one/'], backend: 'node', logger: recorder() });
  try {
    const port = portOf(q);
    q.serve((r) => ({ status: 200, body: r.prefix }));
    await q.addUrl(`http://+:${port}/two/`);
    assert.deepEqual(q.urls, [`http://+:${port}/one/`, `http://+:${port}/two/`]);
    assert.equal((await get(port, '/two/x')).body, `http://+:${port}/two/`);
    await q.removeUrl(`http://+:${port}/one/`);
    assert.equal((await get(port, '/one/x')).status, 404);
    await assert.rejects(q.removeUrl(`http://+:${port}/one/`), /not registered/);
    await assert.rejects(q.addUrl('http://+:1/no-slash'), UrlPrefixError);
    assert.equal(q.hostFacts['backend'], 'node');
    assert.equal(q.hostFacts['h2c'], true);
  } finally {
    await q.close();
  }
  await q.close(); // idempotent
});

test('the runner: typed HTTP errors, bad results, HEAD, bad headers and bad chunks', async () => {
  const log = recorder();
  const q = await createRequestQueue({ urls: ['http://+:0/r/'], backend: 'node', logger: log });
  try {
    const port = portOf(q);
    q.serve((r: ServerRequest): HandlerResult => {
      switch (r.path) {
        case '/r/teapot':
          throw new HttpError(418, 'short and stout');
        case '/r/bad-header':
          return { status: 200, headers: { 'x-bad': 'line\r\nbreak' }, body: 'x' };
        case '/r/bad-name':
          return { status: 200, headers: { 'bad name': 'x' }, body: 'x' };
        case '/r/upgrade':
          return { status: 101, upgrade: (s) => s.destroy() };
        case '/r/informational':
          return { status: 103, body: 'x' };
        case '/r/not-object':
          return 42 as unknown as HandlerResult;
        case '/r/bad-reset':
          return { reset: -1 };
        case '/r/bytes':
          return { status: 200, body: new Uint8Array([104, 105]) };
        case '/r/strings':
          return { status: 200, body: ['a', 'b'] as unknown as Iterable<Uint8Array> };
        case '/r/bad-chunk':
          return { status: 200, body: [new Uint8Array([1]), 5 as unknown as Uint8Array] };
        default:
          return undefined;
      }
    });
    const teapot = await get(port, '/r/teapot');
    assert.equal(teapot.status, 418);
    assert.match(teapot.body, /short and stout/);
    for (const path of ['/r/bad-header', '/r/bad-name', '/r/upgrade', '/r/informational', '/r/not-object', '/r/bad-reset']) {
      const r = await get(port, path);
      assert.equal(r.status, 500, path);
      assert.equal(r.body, 'Internal Server Error\n');
    }
    assert.equal(log.errors.length, 6, 'each failure logged once');
    const bytes = await get(port, '/r/bytes');
    assert.equal(bytes.body, 'hi');
    assert.equal(bytes.headers['content-length'], '2');
    const head = await get(port, '/r/bytes', { method: 'HEAD' });
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], '2');
    assert.equal((await get(port, '/r/strings')).body, 'ab');
    await assert.rejects(get(port, '/r/bad-chunk'));
    assert.equal(log.errors.length, 7);
    assert.equal(q.stats().inFlight, 0);
  } finally {
    await q.close();
  }
});

test('trailers on HTTP/1.0 are dropped with one warning and the body still arrives', async () => {
  const log = recorder();
  const q = await createRequestQueue({ urls: ['http://+:0/t/'], backend: 'node', logger: log });
  try {
    const port = portOf(q);
    q.serve((r) => {
      assert.equal(r.capabilities.trailers, r.httpVersion === '1.1');
      return { status: 200, body: 'body', trailers: { 'x-t': '1' } };
    });
    for (let i = 0; i < 2; i++) {
      const text = await rawRequest(port, 'GET /t/ HTTP/1.0\r\nHost: x\r\n\r\n');
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.match(text, /\r\n\r\nbody$/);
      assert.doesNotMatch(text, /x-t/);
    }
    assert.equal(log.warns.length, 1);
    assert.match(log.warns[0]!, /trailers were dropped/);
    const v11 = await get(port, '/t/');
    assert.equal(v11.trailers['x-t'], '1');
  } finally {
    await q.close();
  }
});

test('requests arriving while no handler is installed get 404, and a queue closed with nothing in flight resolves at once', async () => {
  const q = await createRequestQueue({ urls: ['http://+:0/e/'], backend: 'node', logger: recorder() });
  const port = portOf(q);
  assert.equal((await get(port, '/e/')).status, 404);
  assert.deepEqual(q.stats(), { inFlight: 0, connections: q.stats().connections });
  await q.close({ graceful: 60_000 });
});
