// The Http.sys backend end to end under Wine: a request queue (createRequestQueue
// with backend 'httpsys') hosted by Windows node.exe, driven by Linux clients.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { freePort, wineHost, type WineHost } from './harness.js';
import { startHttpSysServer, wire, wireJson, type HttpSysServer, type InfoEcho } from './httpsys-fixture.js';
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
  // Wine 8's http.sys reads a request body only as far as the data already waiting on the socket
  // when it first sees the request (about 100 KiB on a loopback), so bodies here stay below that.
  const BODY_LIMIT = 80 * 1024;
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
    const info = await wireJson<InfoEcho>(port, '/svc/info?a=1&b=%20x', {
      agent,
      headers: { 'X-Multi': ['one', 'two'], Cookie: ['c1=1', 'c2=2'], Accept: 'application/json' },
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
    // What this exchange can do, as the backend derives it from the host.
    assert.equal(info.capabilities.http2, false);
    assert.equal(info.capabilities.trailers, false, 'Http.sys sends trailers only on HTTP/2');
    assert.equal(info.capabilities.reset, false, 'RST_STREAM exists only on HTTP/2');
    assert.equal(info.capabilities.streaming, server.capabilities.streamingResponses);
    assert.equal(info.capabilities.upgrade, server.capabilities.opaqueUpgrade);
  });

  test('a small POST body is echoed back', async () => {
    const r = await wire(port, '/svc/echo', { agent, body: 'hello from linux', headers: { 'Content-Type': 'text/plain' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain');
    assert.equal(r.body.toString(), 'hello from linux');
  });

  test('a body larger than the first receive is pulled through readBody and echoed byte for byte', async () => {
    const body = randomBytes(BODY_LIMIT - 11);
    const r = await wire(port, '/svc/echo', { agent, body, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.byteLength, body.byteLength);
    assert.ok(r.body.equals(body));
  });

  test('the request body digest matches what was sent', async () => {
    const body = randomBytes(50_003);
    const d = await wireJson<{ bytes: number; sha256: string }>(port, '/svc/digest', { agent, method: 'PUT', body });
    assert.equal(d.bytes, body.byteLength);
    assert.equal(d.sha256, createHash('sha256').update(body).digest('hex'));
  });

  test('a multi-chunk response body arrives whole with its length', async () => {
    const n = 2 * 1024 * 1024 - 5;
    const r = await wire(port, `/svc/bytes?n=${n}`, { agent });
    assert.equal(r.status, 200);
    assert.equal(r.body.byteLength, n);
    assert.ok(r.body.equals(pattern(n)));
    if (!server.capabilities.streamingResponses) assert.equal(r.headers['content-length'], String(n));
  });

  test('a response past the buffered limit is refused with 500 where bodies cannot be streamed', async (t) => {
    if (server.capabilities.streamingResponses) {
      t.skip('this host streams response bodies, so nothing is buffered whole');
      return;
    }
    const r = await wire(port, `/svc/bytes?n=${3 * 1024 * 1024}`);
    assert.equal(r.status, 500);
    const logged = await server.proc.nextReport<{ message: string }>('error');
    assert.match(logged.message, /cannot stream response bodies/);
    const info = await wireJson<InfoEcho>(port, '/svc/info', { agent });
    assert.equal(info.fixture, 'main');
  });

  test('empty responses, status codes and HEAD', async () => {
    const nc = await wire(port, '/svc/status?code=204', { agent });
    assert.equal(nc.status, 204);
    assert.equal(nc.body.byteLength, 0);
    const created = await wire(port, '/svc/status?code=201', { agent });
    assert.equal(created.status, 201);
    assert.equal(created.headers['x-fixture'], 'main');
    const head = await wire(port, '/svc/bytes?n=1000', { agent, method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.byteLength, 0);
  });

  test('repeated response headers: set-cookie stays apart, known headers are joined, reason phrase kept', async () => {
    const r = await wire(port, '/svc/headers', { agent });
    assert.equal(r.status, 200);
    assert.equal(r.statusMessage, 'Fine Thanks');
    assert.deepEqual(r.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
    assert.equal(r.headers['vary'], 'accept, origin');
    assert.equal(r.headers['x-repeat'], 'one, two');
    assert.equal(r.body.toString(), 'headers\n');
  });

  test('a handler that throws gets 500, one that passes gets 404, and the queue keeps serving', async () => {
    const thrown = await wire(port, '/svc/throw', { agent });
    assert.equal(thrown.status, 500);
    const report = await server.proc.nextReport<{ message: string }>('error');
    assert.match(report.message, /handler failed for GET \/svc\/throw/);
    const passed = await wire(port, '/svc/not-mine', { agent });
    assert.equal(passed.status, 404);
    const info = await wireJson<InfoEcho>(port, '/svc/info', { agent });
    assert.equal(info.fixture, 'main');
  });

  test('a body over limits.maxRequestBodyBytes gets 413 and the queue keeps serving', async () => {
    const r = await wire(port, '/svc/digest', { method: 'POST', body: Buffer.alloc(BODY_LIMIT + 1) });
    assert.equal(r.status, 413);
    const ok = await wireJson<{ bytes: number }>(port, '/svc/digest', { agent, method: 'POST', body: Buffer.alloc(1000) });
    assert.equal(ok.bytes, 1000);
  });

  test('a chunked request body is refused with 501 where the host cannot decode it', async (t) => {
    if (server.capabilities.host !== 'wine') {
      t.skip('Http.sys decodes chunked request bodies on Windows');
      return;
    }
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/svc/digest', method: 'POST', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      // A write before end makes node:http send Transfer-Encoding: chunked.
      req.write('chunked ');
      req.end('body');
    });
    assert.equal(status, 501);
    const info = await wireJson<InfoEcho>(port, '/svc/info', { agent });
    assert.equal(info.fixture, 'main');
  });

  test('a header block over limits.maxHeaderBytes gets 431', async () => {
    const r = await wire(port, '/svc/info', { headers: { 'X-Big': 'h'.repeat(HEADER_LIMIT + 100) } });
    assert.equal(r.status, 431);
    const info = await wireJson<InfoEcho>(port, '/svc/info', { agent });
    assert.equal(info.fixture, 'main');
  });

  test('trailers on HTTP/1.1 are dropped with one warning and the body intact', async () => {
    const r = await wire(port, '/svc/trailers', { agent });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'with trailers\n');
    const warning = await server.proc.nextReport<{ message: string }>('warn');
    assert.match(warning.message, /trailers were dropped/);
  });

  test('a reset answer ends the exchange the way this host can', async () => {
    if (server.capabilities.reset || server.capabilities.cancel) {
      // HTTP/1.1 has no stream to reset: the connection is dropped.
      await assert.rejects(wire(port, '/svc/reset'));
    } else {
      // No reset or cancel on this host: the request is finished with 500 so it does not hang.
      const r = await wire(port, '/svc/reset');
      assert.equal(r.status, 500);
    }
    const info = await wireJson<InfoEcho>(port, '/svc/info', { agent });
    assert.equal(info.fixture, 'main');
  });

  test('client disconnect fires the signal', async (t) => {
    if (!server.capabilities.disconnectNotification) {
      t.skip('this host has no HttpWaitForDisconnectEx (Wine stubs it), so a silent client disconnect is not seen');
      return;
    }
    const controller = new AbortController();
    const pending = wire(port, '/svc/wait-abort', { signal: controller.signal }).catch(() => undefined);
    await wireJson<InfoEcho>(port, '/svc/info');
    controller.abort();
    await pending;
    const aborted = await server.proc.nextReport<{ reason: { name: string } }>('aborted');
    assert.equal(aborted.reason.name, 'ClientDisconnectedError');
  });

  test('close with an exchange in flight: it is aborted after the grace period and the process exits', async () => {
    const inFlight = wire(port, '/svc/wait-abort');
    // The exchange is running once a later request on another connection has been answered.
    await wireJson<InfoEcho>(port, '/svc/info');
    const closing = await wireJson<{ closing: boolean }>(port, '/svc/control/close?graceful=300');
    assert.equal(closing.closing, true);
    const aborted = await server.proc.nextReport<{ reason: { name: string } }>('aborted');
    assert.equal(aborted.reason.name, 'QueueClosedError');
    const answer = await inFlight.then(
      (r) => r.status,
      () => 'connection closed',
    );
    // Cancel where the host has it (the connection drops), else an explicit 503.
    if (server.capabilities.cancel) assert.equal(answer, 'connection closed');
    else assert.equal(answer, 503);
    await server.proc.nextReport('closed');
    const exit = await server.proc.waitForExit({ timeoutMs: 30_000 });
    assert.equal(exit.code, 0, server.proc.tail());
  });
});
