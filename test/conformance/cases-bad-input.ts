/**
 * Bad input: malformed requests, oversized headers, bodies over the limit,
 * abrupt disconnects and throwing handlers. Each gets a precise answer or a
 * clean reset, is logged at most once, leaks nothing, and the server keeps serving.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { endpointOf, type CaseContext } from './case-context.js';
import { generatedBody, h1, h1Json, h2, h2Connect, raw, request, usingTls } from './clients.js';
import { newTag, settledStats, waitEvent } from './cases-streams.js';
import { CASE, fact, h2Available, need, needH2 } from './skip.js';

const MiB = 1024 * 1024;
const LARGE_BODIES = 'the server reports request bodies are buffered whole before a handler sees them (hostFacts.largeRequestBodies is false)';

interface Logged {
  logged: { errors: number; warns: number } | null;
}

async function logged(port: number, path = '/conf/stats'): Promise<{ errors: number; warns: number }> {
  const s = await h1Json<Logged>(port, path);
  return s.logged ?? { errors: 0, warns: 0 };
}

async function stillServing(port: number, path = '/conf/caps'): Promise<void> {
  const r = await h1({ port, path });
  assert.equal(r.status, 200, 'the server keeps serving');
}

export function registerBadInputCases(ctx: CaseContext): void {
  test('malformed HTTP/1.1 requests get 400 and the connection closes', CASE, async () => {
    const before = await logged(ctx.port());
    const cases = [
      'GARBAGE\r\n\r\n',
      `GET /conf/caps HTTP/1.1\r\nHost: 127.0.0.1\r\nthis line has no colon\r\n\r\n`,
      `GET /conf/caps HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Name: x\r\n\r\n`,
    ];
    // Broken framing is refused only by a strict parser (hostFacts.strictRequestParsing), and a
    // broken chunked body only matters where chunked bodies are read at all.
    if (fact(ctx.caps(), 'strictRequestParsing')) {
      cases.push(`POST /conf/sink HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello`);
      cases.push(`GET /conf/caps HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Nul: a\u0000b\r\n\r\n`);
      if (fact(ctx.caps(), 'chunkedRequestBodies')) {
        cases.push(`POST /conf/sink HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n`);
        // Both framings at once (a request-smuggling shape).
        cases.push(`POST /conf/sink HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
      }
    }
    for (const request of cases) {
      const answer = await raw(ctx.port(), request);
      assert.match(answer, /^HTTP\/1\.[01] 400 /, `answer to ${JSON.stringify(request.slice(0, 40))}: ${JSON.stringify(answer.slice(0, 80))}`);
    }
    const after = await logged(ctx.port());
    assert.ok(after.errors === before.errors, 'malformed requests are not handler errors');
    assert.ok(after.warns - before.warns <= cases.length, 'each malformed request is logged at most once');
    await stillServing(ctx.port());
    await settledStats(ctx.port());
  });

  test('a broken HTTP/2 connection gets GOAWAY, is released, and the server keeps serving', CASE, async (t) => {
    if (!need(t, !usingTls() && fact(ctx.caps(), 'h2c'), 'needs cleartext HTTP/2 to send raw frames (hostFacts.h2c is false, or the suite runs over TLS)')) return;
    // A server of its own with a short idle timeout: a connection the protocol error left
    // open is released at the latest when it has been idle that long.
    const server = await ctx.target.start([`${ctx.scheme}://+:0/h2bad/`], { idleTimeoutSeconds: 1 });
    try {
      const { port } = endpointOf(server.ready.urls[0]!);
      const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
      const goaway = /[\s\S]{3}\x07\x00\x00\x00\x00\x00/; // a GOAWAY frame header (type 7, stream 0)
      // A frame header announcing a 16 MiB SETTINGS frame, then garbage: a connection error.
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (d: Buffer) => {
          text += d.toString('latin1');
          if (goaway.test(text)) resolve(text);
        });
        socket.on('close', () => resolve(text));
        socket.write(Buffer.concat([Buffer.from(preface, 'latin1'), Buffer.from([0xff, 0xff, 0xff, 0x04, 0, 0, 0, 0, 0]), Buffer.alloc(64, 0xee)]));
      });
      assert.match(answer, goaway, 'the server answers the connection error with GOAWAY');
      // The server releases the connection (the client keeps its end open and waits).
      await new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
      const session = await h2Connect(port);
      try {
        assert.equal((await h2(session, { ':path': '/h2bad/caps' })).status, 200);
      } finally {
        session.close();
      }
      await stillServing(port, '/h2bad/caps');
    } finally {
      await server.close().catch(() => server.kill());
    }
  });

  test('oversized request headers get 431', CASE, async (t) => {
    const caps = ctx.caps();
    // The status the host answers (Http.sys says 400); 0 means it closes without an answer.
    const status = typeof caps.hostFacts['oversizedHeaderStatus'] === 'number' ? caps.hostFacts['oversizedHeaderStatus'] : 431;
    if (!need(t, status !== 0, 'the server reports it closes the connection on oversized headers without an answer (hostFacts.oversizedHeaderStatus is 0)')) return;
    if (!need(t, fact(caps, 'largeRequestHeaders'), 'the server reports it cannot take header blocks larger than the limit (hostFacts.largeRequestHeaders is false)')) return;
    const limit = caps.limits.maxHeaderBytes ?? 64 * 1024;
    const big = 'v'.repeat(limit + 1024);
    const answer = await raw(ctx.port(), `GET /conf/caps HTTP/1.1\r\nHost: 127.0.0.1:${ctx.port()}\r\nX-Big: ${big}\r\n\r\n`);
    assert.match(answer, new RegExp(`^HTTP/1\\.[01] ${status} `), JSON.stringify(answer.slice(0, 80)));
    await stillServing(ctx.port());
    await settledStats(ctx.port());
  });

  test('oversized request headers over HTTP/2 get 431 (or a reset)', CASE, async (t) => {
    const caps = ctx.caps();
    if (!needH2(t, caps)) return;
    const big = 'v'.repeat((caps.limits.maxHeaderBytes ?? 64 * 1024) + 1024);
    const session = await h2Connect(ctx.port());
    try {
      const r = await h2(session, { ':path': '/conf/caps', 'x-big': big });
      assert.ok(r.status === 431 || r.rstCode !== 0, `HTTP/2 answer: status ${r.status}, reset ${r.rstCode}`);
      if (r.status !== 0) assert.equal(r.status, 431);
    } finally {
      session.destroy();
    }
    await settledStats(ctx.port());
  });

  test('request bodies over the configured limit get 413', CASE, async () => {
    // Sized so that twice the limit fits what the host takes in one request (hostFacts.maxRequestBytes).
    const maxRequest = ctx.caps().hostFacts['maxRequestBytes'];
    const limit = Math.min(64 * 1024, typeof maxRequest === 'number' ? Math.floor(maxRequest / 4) : Infinity);
    const server = await ctx.target.start([`${ctx.scheme}://+:0/lim/`], { maxRequestBodyBytes: limit });
    try {
      const caps = server.ready.capabilities ?? ctx.caps();
      const e = endpointOf(server.ready.urls[0]!);
      const port = e.port;
      // Too large by Content-Length, body sent: refused.
      const sized = await h1({ port, method: 'PUT', path: '/lim/sink', headers: { 'Content-Length': String(2 * limit) }, body: generatedBody(2 * limit), tolerateWriteErrors: true });
      assert.equal(sized.status, 413);
      // Exactly at the limit is fine.
      const atLimit = await h1Json<{ bytes: number }>(port, '/lim/sink', { method: 'PUT', headers: { 'Content-Length': String(limit) }, body: generatedBody(limit) });
      assert.equal(atLimit.bytes, limit);
      // A handler-level limit through readBody.
      const small = await h1({ port, method: 'POST', path: '/lim/limited?max=10', body: 'x'.repeat(100) });
      assert.equal(small.status, 413);
      if (fact(caps, 'largeRequestBodies')) {
        // Declared too large and not sent at all: answered before any body byte is read.
        const declared = await raw(port, `PUT /lim/sink HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${64 * MiB}\r\n\r\n`);
        assert.match(declared, /^HTTP\/1\.1 413 /);
        if (fact(caps, 'chunkedRequestBodies')) {
          const chunked = await h1({ port, method: 'POST', path: '/lim/sink', body: generatedBody(2 * MiB), tolerateWriteErrors: true });
          assert.equal(chunked.status, 413);
        }
      }
      const stats = await h1Json<{ inFlight: number; logged: { errors: number } | null }>(port, '/lim/stats');
      assert.equal(stats.logged?.errors ?? 0, 0, 'a body over the limit is not a handler failure');
      if (h2Available(caps)) {
        const session = await h2Connect(port);
        try {
          const r = await h2(session, { ':method': 'POST', ':path': '/lim/sink' }, generatedBody(2 * MiB));
          assert.equal(r.status, 413);
          const ok = await h2(session, { ':method': 'POST', ':path': '/lim/sink' }, 'fits');
          assert.equal(ok.status, 200);
        } finally {
          session.close();
        }
      }
      await stillServing(port, '/lim/caps');
    } finally {
      await server.close().catch(() => server.kill());
    }
  });

  test('an abrupt disconnect mid-body ends the exchange and leaks nothing', CASE, async (t) => {
    if (!need(t, fact(ctx.caps(), 'largeRequestBodies'), LARGE_BODIES)) return;
    const id = newTag('mid-body');
    const req = request({
      host: '127.0.0.1',
      port: ctx.port(),
      method: 'PUT',
      path: `/conf/sink?id=${id}`,
      agent: false,
      headers: { 'Content-Length': String(10 * MiB) },
    });
    req.on('error', () => undefined);
    req.write(new Uint8Array(256 * 1024));
    await waitEvent(ctx.port(), id, 'started');
    req.destroy();
    const e = await waitEvent(ctx.port(), id, 'body');
    assert.ok(e.bodyError, 'reading the body failed');
    assert.ok((e.bodyBytes ?? 0) < 10 * MiB);
    if (fact(ctx.caps(), 'clientAbortSignal')) {
      const a = await waitEvent(ctx.port(), id, 'abort');
      assert.equal(a.abort?.name, 'ClientDisconnectedError');
    }
    await settledStats(ctx.port());
    await stillServing(ctx.port());
  });

  test('an abrupt disconnect mid-response ends the exchange and leaks nothing', CASE, async (t) => {
    if (!need(t, ctx.caps().capabilities.streaming, 'the server reports response bodies cannot be streamed (capabilities.streaming is false)')) return;
    const id = newTag('mid-response');
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: ctx.port(), path: `/conf/source?bytes=${1024 * MiB}&id=${id}`, agent: false });
      req.on('error', () => undefined);
      req.on('response', (res) => {
        let got = 0;
        res.on('error', () => undefined);
        res.on('data', (c: Buffer) => {
          got += c.length;
          if (got > MiB) {
            req.destroy();
            resolve();
          }
        });
        res.on('end', () => reject(new Error('the whole 1 GiB arrived before the disconnect')));
      });
      req.end();
    });
    if (fact(ctx.caps(), 'clientAbortSignal')) {
      const e = await waitEvent(ctx.port(), id, 'abort');
      assert.equal(e.abort?.name, 'ClientDisconnectedError');
      assert.equal(e.finished, false);
    }
    await settledStats(ctx.port());
    await stillServing(ctx.port());
  });

  test('handlers that throw get 500 without internals, logged once', CASE, async () => {
    const before = await logged(ctx.port());
    const r = await h1({ port: ctx.port(), path: '/conf/throw' });
    assert.equal(r.status, 500);
    assert.doesNotMatch(r.body.toString(), /secret|7f3a|\bat \w/);
    const bad = await h1({ port: ctx.port(), path: '/conf/bad-status' });
    assert.equal(bad.status, 500);
    const after = await logged(ctx.port());
    assert.equal(after.errors - before.errors, 2, 'each failure is logged exactly once');
    await stillServing(ctx.port());
    await settledStats(ctx.port());
  });

  test('a handler that throws over HTTP/2 gets 500 without internals, logged once', CASE, async (t) => {
    if (!needH2(t, ctx.caps())) return;
    const after = await logged(ctx.port());
    const session = await h2Connect(ctx.port());
    try {
      const h = await h2(session, { ':path': '/conf/throw' });
      assert.equal(h.status, 500);
      assert.doesNotMatch(h.body.toString(), /secret|7f3a/);
    } finally {
      session.close();
    }
    assert.equal((await logged(ctx.port())).errors - after.errors, 1);
    await settledStats(ctx.port());
  });

  test('a response body that fails mid-way drops the HTTP/1.1 connection, logged once', CASE, async (t) => {
    if (!need(t, fact(ctx.caps(), 'dropConnection'), 'the server reports it cannot drop an HTTP/1.1 connection (hostFacts.dropConnection is false)')) return;
    const before = await logged(ctx.port());
    const outcome = await h1({ port: ctx.port(), path: '/conf/body-error?after=5000' }).then(
      (r) => (r.headers['transfer-encoding'] === 'chunked' ? `complete ${r.body.length}` : `answered ${r.status}`),
      (err: Error & { code?: string }) => err.code ?? err.message,
    );
    assert.match(outcome, /ECONNRESET|socket hang up|aborted/);
    const after = await logged(ctx.port());
    assert.equal(after.errors - before.errors, 1);
    await settledStats(ctx.port());
    await stillServing(ctx.port());
  });
}
