// Real HTTP through Wine's http.sys: the raw addon hosted by Windows node.exe,
// driven by node:http and fetch on Linux. One Wine process serves every case here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { freePort, wineHost, type WineHost } from './harness.js';
import { headerValues, request, requestJson, type Echo } from './client.js';
import { startNativeServer, unavailableReason, type NativeServer } from './native-fixture.js';

const host = await wineHost();
const skip = unavailableReason(host);

describe('addon under Wine: requests and responses', { skip, timeout: 300_000 }, () => {
  let server: NativeServer;
  let port: number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  before(async () => {
    port = await freePort();
    // Wine 8's http.sys hands a parsed request to a receive only if one is waiting at that moment or
    // if its connection happens to be the first idle one when the next receive arrives; otherwise the
    // request waits forever. Keeping more receives outstanding than concurrent clients avoids that.
    server = await startNativeServer(host as WineHost, { name: 'main', prefixes: [`http://+:${port}/main/`], receives: 256 });
  });
  after(async () => {
    agent.destroy();
    await server?.proc.stop();
  });

  test('GET carries method, raw URL, lower-cased headers and repeated headers', async () => {
    const r = await request(port, '/main/echo?a=1&b=%20x', {
      agent,
      headers: { 'X-Custom-Header': 'Value One', 'x-multi': ['first', 'second'], accept: 'application/json' },
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-fixture'], 'main');
    assert.equal(r.headers['content-type'], 'application/json');
    const echo = JSON.parse(r.body.toString()) as Echo;
    assert.equal(echo.method, 'GET');
    assert.equal(echo.rawUrl, '/main/echo?a=1&b=%20x');
    assert.equal(echo.urlContext, 1);
    assert.equal(echo.httpVersion, '1.1');
    assert.equal(echo.http2, false);
    assert.equal(echo.secure, false);
    assert.deepEqual(headerValues(echo.headers, 'x-custom-header'), ['Value One']);
    assert.deepEqual(headerValues(echo.headers, 'x-multi'), ['first', 'second']);
    assert.deepEqual(headerValues(echo.headers, 'accept'), ['application/json']);
    assert.deepEqual(headerValues(echo.headers, 'host'), [`127.0.0.1:${port}`]);
    for (let i = 0; i < echo.headers.length; i += 2) assert.equal(echo.headers[i], echo.headers[i]!.toLowerCase());
    assert.equal(echo.localPort, port);
    assert.equal(echo.remoteAddress, '127.0.0.1');
    assert.ok(echo.remotePort > 0);
    assert.equal(echo.bodyBytes, 0);
    assert.equal(echo.moreBody, false);
  });

  test('GET with fetch', async (t) => {
    if ((host as WineHost).wineVersion.startsWith('wine-8.')) {
      t.skip("Wine 8's http.sys matches header names case-sensitively and answers 400 to fetch, which sends `host` in lower case");
      return;
    }
    const res = await fetch(`http://127.0.0.1:${port}/main/echo?via=fetch`, { headers: { 'x-request-tag': 'fetch-1' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-fixture'), 'main');
    const echo = (await res.json()) as Echo;
    assert.equal(echo.method, 'GET');
    assert.equal(echo.rawUrl, '/main/echo?via=fetch');
    assert.deepEqual(headerValues(echo.headers, 'x-request-tag'), ['fetch-1']);
  });

  test('POST with a small body and a content type', async () => {
    const body = JSON.stringify({ hello: 'wine', n: 42 });
    const echo = await requestJson<Echo>(port, '/main/echo', {
      agent,
      body,
      headers: { 'Content-Type': 'application/json', 'x-request-tag': 'post-1' },
    });
    assert.equal(echo.method, 'POST');
    assert.equal(echo.bodyBytes, Buffer.byteLength(body));
    assert.equal(echo.bodySha256, createHash('sha256').update(body).digest('hex'));
    assert.deepEqual(headerValues(echo.headers, 'content-type'), ['application/json']);
    assert.deepEqual(headerValues(echo.headers, 'content-length'), [String(Buffer.byteLength(body))]);
    assert.deepEqual(headerValues(echo.headers, 'x-request-tag'), ['post-1']);
  });

  test('an HTTP/1.0 request written on a raw socket', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(`GET /main/echo?v=10 HTTP/1.0\r\nHost: 127.0.0.1:${port}\r\nX-Raw: yes\r\n\r\n`);
      });
      const chunks: Buffer[] = [];
      socket.setTimeout(60_000, () => socket.destroy(new Error('no answer to the raw HTTP/1.0 request')));
      socket.on('data', (c: Buffer) => {
        chunks.push(c);
        const text = Buffer.concat(chunks).toString('latin1');
        const head = text.indexOf('\r\n\r\n');
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(text);
        if (head >= 0 && length && text.length - head - 4 >= Number(length[1])) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.[01] 200 /);
    const echo = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as Echo;
    assert.equal(echo.httpVersion, '1.0');
    assert.equal(echo.rawUrl, '/main/echo?v=10');
    assert.deepEqual(headerValues(echo.headers, 'x-raw'), ['yes']);
  });

  test('an IPv6 client', async (t) => {
    if ((host as WineHost).wineVersion.startsWith('wine-8.')) {
      t.skip("Wine 8's http.sys listens on IPv4 only (INADDR_ANY)");
      return;
    }
    const echo = await new Promise<Echo>((resolve, reject) => {
      http
        .get({ host: '::1', port, path: '/main/echo?v6', agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as Echo));
        })
        .on('error', reject);
    });
    assert.equal(echo.remoteAddress, '::1');
    assert.equal(echo.localAddress, '::1');
  });

  test('unknown verbs arrive as sent', async () => {
    const echo = await requestJson<Echo>(port, '/main/echo', { agent, method: 'PURGE' });
    assert.equal(echo.method, 'PURGE');
    const put = await requestJson<Echo>(port, '/main/echo', { agent, method: 'PUT', body: 'put body' });
    assert.equal(put.method, 'PUT');
    assert.equal(put.bodyBytes, 8);
  });

  test('a body larger than the first receive buffer is read through readBody', async () => {
    const body = randomBytes(64 * 1024 + 123);
    const echo = await requestJson<Echo>(port, '/main/echo', { agent, body, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(echo.bodyBytes, body.byteLength);
    assert.equal(echo.bodySha256, createHash('sha256').update(body).digest('hex'));
    assert.equal(echo.moreBody, true, 'a 64 KiB body cannot fit the first 4 KiB receive');
    assert.ok(echo.bodyReads > 0);
  });

  test('a 4 MiB request body', async (t) => {
    if ((host as WineHost).wineVersion.startsWith('wine-8.')) {
      t.skip("Wine 8's http.sys holds a request until its whole body is buffered and drops connections whose body outgrows its buffer (a few hundred KiB)");
      return;
    }
    const body = randomBytes(4 * 1024 * 1024);
    const echo = await requestJson<Echo>(port, '/main/echo', { agent, body });
    assert.equal(echo.bodyBytes, body.byteLength);
    assert.equal(echo.bodySha256, createHash('sha256').update(body).digest('hex'));
  });

  test('request headers over 4 KiB arrive whole (ERROR_MORE_DATA retry)', async () => {
    const big = 'v'.repeat(6000);
    const many: Record<string, string> = {};
    for (let i = 0; i < 40; i++) many[`x-filler-${i}`] = `value-${i}-${'z'.repeat(100)}`;
    const body = randomBytes(3000);
    const echo = await requestJson<Echo>(port, '/main/echo?big=1', { agent, body, headers: { 'x-big': big, ...many } });
    assert.deepEqual(headerValues(echo.headers, 'x-big'), [big]);
    for (let i = 0; i < 40; i++) assert.deepEqual(headerValues(echo.headers, `x-filler-${i}`), [many[`x-filler-${i}`]]);
    assert.equal(echo.rawUrl, '/main/echo?big=1');
    assert.equal(echo.bodySha256, createHash('sha256').update(body).digest('hex'));
  });

  test('a large response body in many chunks arrives intact', async () => {
    const n = 3 * 1024 * 1024 + 7;
    const r = await request(port, `/main/bytes?n=${n}`, { agent });
    assert.equal(r.status, 200);
    assert.equal(r.body.byteLength, n);
    for (let i = 0; i < n; i += 4093) assert.equal(r.body[i], i % 251, `byte ${i}`);
    assert.equal(r.body[n - 1], (n - 1) % 251);
  });

  test('1,000 sequential requests on keep-alive connections: none lost', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const echo = await requestJson<Echo>(port, `/main/echo?seq=${i}`, { agent });
      assert.equal(echo.rawUrl, `/main/echo?seq=${i}`);
      seen.add(echo.id);
    }
    assert.equal(seen.size, 1000, 'every request had its own id');
  });

  test('200 concurrent requests: none lost', async () => {
    const wide = new http.Agent({ keepAlive: false, maxSockets: 200 });
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          requestJson<Echo>(port, `/main/echo?par=${i}`, { agent: wide, method: i % 2 ? 'POST' : 'GET', body: i % 2 ? `body ${i}` : undefined }),
        ),
      );
      const urls = new Set(results.map((e) => e.rawUrl));
      assert.equal(urls.size, 200);
      for (let i = 0; i < 200; i++) assert.ok(urls.has(`/main/echo?par=${i}`), `request ${i} answered`);
      results.forEach((e, i) => assert.equal(e.bodyBytes, i % 2 ? Buffer.byteLength(`body ${i}`) : 0));
    } finally {
      wide.destroy();
    }
  });

  test('the server process is still healthy after all of it', async () => {
    const echo = await requestJson<Echo>(port, '/main/echo?final', { agent });
    assert.equal(echo.fixture, 'main');
    assert.equal(server.proc.hasExited, false);
    assert.deepEqual(server.proc.reports().filter((r) => r.type === 'handler-error' || r.type === 'fatal'), []);
  });
});
