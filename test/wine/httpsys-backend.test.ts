// The Http.sys backend end to end under Wine: a request queue (createRequestQueue
// with backend 'httpsys') hosted by Windows node.exe, driven by Linux clients.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { freePort, wineHost, type WineHost } from './harness.js';
import { request, requestJson } from './client.js';
import { startHttpSysServer, type HttpSysServer, type InfoEcho } from './httpsys-fixture.js';
import { unavailableReason } from './native-fixture.js';

const host = await wineHost();
const skip = unavailableReason(host);

function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

describe('Http.sys backend under Wine', { skip }, () => {
  let server: HttpSysServer;
  let port: number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const BODY_LIMIT = 4 * 1024 * 1024;
  const HEADER_LIMIT = 8 * 1024;

  before(async () => {
    port = await freePort();
    server = await startHttpSysServer(host as WineHost, {
      name: 'main',
      urls: [`http://+:${port}/svc/`],
      limits: { maxRequestBodyBytes: BODY_LIMIT, maxHeaderBytes: HEADER_LIMIT },
    });
  });
  after(async () => {
    agent.destroy();
    await server?.proc.stop();
  });

  test('the request reaches the handler with every contract field', async () => {
    const info = await requestJson<InfoEcho>(port, '/svc/info?a=1&b=%20x', {
      agent,
      headers: { 'X-Multi': ['one', 'two'], cookie: ['c1=1', 'c2=2'], accept: 'application/json' },
    });
    assert.equal(info.fixture, 'main');
    assert.equal(info.method, 'GET');
    assert.equal(info.url, '/svc/info?a=1&b=%20x');
    assert.equal(info.path, '/svc/info');
    assert.equal(info.query, 'a=1&b=%20x');
    assert.equal(info.host, '127.0.0.1');
    assert.equal(info.headers['x-multi'], 'one, two');
    assert.equal(info.headers['cookie'], 'c1=1; c2=2');
    assert.equal(info.headers['accept'], 'application/json');
    assert.deepEqual(
      info.rawHeaders.filter(([n]) => n === 'x-multi'),
      [
        ['x-multi', 'one'],
        ['x-multi', 'two'],
      ],
    );
    assert.equal(info.httpVersion, '1.1');
    assert.equal(info.remoteAddress, '127.0.0.1');
    assert.ok(info.remotePort > 0);
    assert.equal(info.localPort, port);
    assert.equal(info.secure, false);
    assert.equal(info.prefix, `http://+:${port}/svc/`);
    // What this host can do, as the backend reports it per exchange.
    assert.equal(info.capabilities.http2, false);
    // Http.sys sends trailers only on HTTP/2.
    assert.equal(info.capabilities.trailers, false);
    assert.equal(info.capabilities.reset, server.capabilities.reset);
    assert.equal(info.capabilities.streaming, server.capabilities.streamingResponses);
    assert.equal(info.capabilities.upgrade, server.capabilities.opaqueUpgrade);
  });

  test('a small POST body is echoed back', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/svc/echo`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello from linux',
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain');
    assert.equal(await res.text(), 'hello from linux');
  });

  test('a 3 MiB body is pulled through readBody and echoed byte for byte', async () => {
    const body = randomBytes(3 * 1024 * 1024);
    const r = await request(port, '/svc/echo', { agent, method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.byteLength, body.byteLength);
    assert.ok(r.body.equals(body));
  });

  test('request body digest matches what was sent', async () => {
    const body = randomBytes(1_500_000);
    const d = await requestJson<{ bytes: number; sha256: string }>(port, '/svc/digest', { agent, method: 'PUT', body });
    assert.equal(d.bytes, body.byteLength);
    assert.equal(d.sha256, createHash('sha256').update(body).digest('hex'));
  });

  test('a streamed 5 MiB response body arrives whole with its length', async () => {
    const n = 5 * 1024 * 1024 + 7;
    const r = await request(port, `/svc/bytes?n=${n}`, { agent });
    assert.equal(r.status, 200);
    assert.equal(r.body.byteLength, n);
    assert.ok(r.body.equals(pattern(n)));
    if (!server.capabilities.streamingResponses) assert.equal(r.headers['content-length'], String(n));
  });

  test('empty responses, status codes and HEAD', async () => {
    const nc = await request(port, '/svc/status?code=204', { agent });
    assert.equal(nc.status, 204);
    assert.equal(nc.body.byteLength, 0);
    const created = await request(port, '/svc/status?code=201', { agent });
    assert.equal(created.status, 201);
    assert.equal(created.headers['x-fixture'], 'main');
    const head = await request(port, '/svc/bytes?n=1000', { agent, method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.byteLength, 0);
  });

  test('repeated response headers: set-cookie stays apart, known headers are joined, reason phrase kept', async () => {
    const r = await request(port, '/svc/headers', { agent });
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
    assert.equal(r.headers['vary'], 'accept, origin');
    assert.equal(r.headers['x-repeat'], 'one, two');
    assert.equal(r.body.toString(), 'headers\n');
    const statusLine = await new Promise<string>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/svc/headers', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusMessage ?? ''));
      });
      req.on('error', reject);
    });
    assert.equal(statusLine, 'Fine Thanks');
  });

  test('a handler that throws gets 500, one that passes gets 404, and the queue keeps serving', async () => {
    const thrown = await request(port, '/svc/throw', { agent });
    assert.equal(thrown.status, 500);
    const report = await server.proc.nextReport<{ message: string }>('error');
    assert.match(report.message, /handler failed for GET \/svc\/throw/);
    const passed = await request(port, '/svc/not-mine', { agent });
    assert.equal(passed.status, 404);
    const info = await requestJson<InfoEcho>(port, '/svc/info', { agent });
    assert.equal(info.fixture, 'main');
  });

  test('a body over limits.maxRequestBodyBytes gets 413 and the queue keeps serving', async () => {
    const r = await request(port, '/svc/digest', { agent: false, method: 'POST', body: Buffer.alloc(BODY_LIMIT + 1) });
    assert.equal(r.status, 413);
    const ok = await requestJson<{ bytes: number }>(port, '/svc/digest', { agent, method: 'POST', body: Buffer.alloc(1000) });
    assert.equal(ok.bytes, 1000);
  });

  test('a header block over limits.maxHeaderBytes gets 431', async () => {
    const r = await request(port, '/svc/info', { agent: false, headers: { 'x-big': 'h'.repeat(HEADER_LIMIT + 100) } });
    assert.equal(r.status, 431);
    const info = await requestJson<InfoEcho>(port, '/svc/info', { agent });
    assert.equal(info.fixture, 'main');
  });

  test('trailers: sent where the exchange can, otherwise dropped with one warning and the body intact', async () => {
    const r = await request(port, '/svc/trailers', { agent });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'with trailers\n');
    if (!server.capabilities.trailers) {
      const warning = await server.proc.nextReport<{ message: string }>('warn');
      assert.match(warning.message, /trailers were dropped/);
    }
  });

  test('a reset answer ends the exchange the way this host can', async () => {
    if (server.capabilities.reset) {
      // HTTP/1.1 has no stream to reset: the connection is dropped.
      await assert.rejects(request(port, '/svc/reset', { agent: false }));
    } else {
      // No reset or cancel on this host: the request is finished with 500 so it does not hang.
      const r = await request(port, '/svc/reset', { agent: false });
      assert.equal(r.status, 500);
    }
    const info = await requestJson<InfoEcho>(port, '/svc/info', { agent });
    assert.equal(info.fixture, 'main');
  });

  test('client disconnect fires the signal', async (t) => {
    if (!server.capabilities.disconnectNotification) {
      t.skip('this host has no HttpWaitForDisconnectEx (Wine stubs it), so a silent client disconnect is not seen');
      return;
    }
    const controller = new AbortController();
    const pending = request(port, '/svc/wait-abort', { agent: false, signal: controller.signal }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    controller.abort();
    await pending;
    const aborted = await server.proc.nextReport<{ reason: { name: string } }>('aborted');
    assert.equal(aborted.reason.name, 'ClientDisconnectedError');
  });

  test('close with an exchange in flight: it is aborted after the grace period and the process exits', async () => {
    const inFlight = request(port, '/svc/wait-abort', { agent: false });
    // The exchange is running once a later request on another connection has been answered.
    await requestJson<InfoEcho>(port, '/svc/info', { agent: false });
    const closing = await requestJson<{ closing: boolean }>(port, '/svc/control/close?graceful=300', { agent: false });
    assert.equal(closing.closing, true);
    const aborted = await server.proc.nextReport<{ reason: { name: string } }>('aborted');
    assert.equal(aborted.reason.name, 'QueueClosedError');
    const answer = await inFlight.then(
      (r) => r.status,
      () => 'connection closed',
    );
    // Cancel where the host has it (the connection drops), else an explicit 503.
    assert.ok(answer === 503 || answer === 'connection closed', `in-flight answer: ${answer}`);
    await server.proc.nextReport('closed');
    const exit = await server.proc.waitForExit({ timeoutMs: 30_000 });
    assert.equal(exit.code, 0, server.proc.tail());
  });
});
