/** Request and response bodies: empty, small, huge, and 1 GiB through an echo with bounded memory. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { CaseContext } from './case-context.js';
import { checkPattern, generatedBody, h1, h1Json, h2, h2Connect, request } from './clients.js';
import { CASE, fact, need, needH2 } from './skip.js';

const MiB = 1024 * 1024;
const HUGE = 32 * MiB;
const LARGE_BODIES = 'the server reports request bodies are buffered whole before a handler sees them (hostFacts.largeRequestBodies is false)';

async function digest(body: AsyncIterable<Uint8Array>): Promise<string> {
  const h = createHash('sha256');
  for await (const c of body) h.update(c);
  return h.digest('hex');
}

interface Stats {
  inFlight: number;
  connections: number | null;
  rss: number;
  logged: { errors: number; warns: number } | null;
}

export function registerBodyCases(ctx: CaseContext): void {
  test('empty and small bodies both ways over HTTP/1.1', CASE, async () => {
    const empty = await h1Json<{ bodyBytes: number }>(ctx.port(), '/conf/inspect', { method: 'POST', body: '' });
    assert.equal(empty.bodyBytes, 0);
    const small = await h1Json<{ bodyBytes: number; bodySha256: string }>(ctx.port(), '/conf/inspect', { method: 'POST', body: 'hello, queue' });
    assert.equal(small.bodyBytes, 12);
    assert.equal(small.bodySha256, createHash('sha256').update('hello, queue').digest('hex'));
    const echo = await h1({ port: ctx.port(), method: 'POST', path: '/conf/echo', body: 'round trip', headers: { 'content-type': 'text/x-test' } });
    assert.equal(echo.body.toString(), 'round trip');
    assert.equal(echo.headers['content-type'], 'text/x-test');
    const none = await h1({ port: ctx.port(), path: '/conf/source?bytes=0' });
    assert.equal(none.status, 200);
    assert.equal(none.body.length, 0);
    const ten = await h1({ port: ctx.port(), path: '/conf/source?bytes=10' });
    assert.equal(ten.body.length, 10);
    assert.ok(checkPattern(ten.body));
  });

  test('a huge response body (32 MiB) over HTTP/1.1', CASE, async (t) => {
    const maxResponse = ctx.caps().hostFacts['maxResponseBytes'];
    const fits = typeof maxResponse !== 'number' || maxResponse >= HUGE;
    if (!need(t, fits, `the server reports responses larger than ${String(maxResponse)} bytes cannot be sent (hostFacts.maxResponseBytes)`)) return;
    const down = await h1({ port: ctx.port(), path: `/conf/source?bytes=${HUGE}` });
    assert.equal(down.status, 200);
    assert.equal(down.body.length, HUGE);
    assert.ok(checkPattern(down.body));
  });

  test('a huge request body (32 MiB, with Content-Length) over HTTP/1.1', CASE, async (t) => {
    if (!need(t, fact(ctx.caps(), 'largeRequestBodies'), LARGE_BODIES)) return;
    const expected = await digest(generatedBody(HUGE));
    const sized = await h1Json<{ bytes: number; sha256: string }>(ctx.port(), '/conf/sink?hash=1', {
      method: 'PUT',
      headers: { 'Content-Length': String(HUGE) },
      body: generatedBody(HUGE),
    });
    assert.equal(sized.bytes, HUGE);
    assert.equal(sized.sha256, expected);
  });

  test('a huge chunked request body (32 MiB) over HTTP/1.1', CASE, async (t) => {
    if (!need(t, fact(ctx.caps(), 'chunkedRequestBodies'), 'the server reports no chunked request bodies (hostFacts.chunkedRequestBodies is false)')) return;
    if (!need(t, fact(ctx.caps(), 'largeRequestBodies'), LARGE_BODIES)) return;
    const expected = await digest(generatedBody(HUGE));
    const chunked = await h1Json<{ bytes: number; sha256: string }>(ctx.port(), '/conf/sink?hash=1', {
      method: 'POST',
      body: generatedBody(HUGE),
    });
    assert.equal(chunked.bytes, HUGE);
    assert.equal(chunked.sha256, expected);
  });

  test('empty, small and huge bodies both ways over HTTP/2', CASE, async (t) => {
    if (!needH2(t, ctx.caps())) return;
    const session = await h2Connect(ctx.port());
    try {
      const empty = await h2(session, { ':method': 'POST', ':path': '/conf/sink' }, '');
      assert.equal(JSON.parse(empty.body.toString()).bytes, 0);
      const echo = await h2(session, { ':method': 'POST', ':path': '/conf/echo' }, 'over h2');
      assert.equal(echo.body.toString(), 'over h2');
      const up = await h2(session, { ':method': 'POST', ':path': '/conf/sink?hash=1' }, generatedBody(HUGE));
      const sum = JSON.parse(up.body.toString()) as { bytes: number; sha256: string };
      assert.equal(sum.bytes, HUGE);
      assert.equal(sum.sha256, await digest(generatedBody(HUGE)));
      const down = await h2(session, { ':path': `/conf/source?bytes=${HUGE}` });
      assert.equal(down.body.length, HUGE);
      assert.ok(checkPattern(down.body));
    } finally {
      session.close();
    }
  });

  test('1 GiB streamed through an echo keeps the server process under 64 MiB of growth', CASE, async (t) => {
    const caps = ctx.caps();
    if (!need(t, caps.capabilities.streaming, 'the server reports response bodies cannot be streamed (capabilities.streaming is false)')) return;
    if (!need(t, fact(caps, 'largeRequestBodies'), LARGE_BODIES)) return;
    const total = 1024 * MiB;
    const stats = (): Promise<Stats> => h1Json<Stats>(ctx.port(), '/conf/stats');
    // Warm up the paths once so the baseline includes code and pools, not the transfer.
    await h1({ port: ctx.port(), method: 'PUT', path: '/conf/echo', headers: { 'Content-Length': String(8 * MiB) }, body: generatedBody(8 * MiB) });
    const baseline = (await stats()).rss;
    let peak = baseline;
    let received = 0;
    let nextSample = 128 * MiB;
    let sampling = Promise.resolve();
    const chunk = new Uint8Array(MiB).fill(0x5a);
    await new Promise<void>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: ctx.port(),
        method: 'PUT',
        path: '/conf/echo',
        agent: false,
        headers: { 'Content-Length': String(total), 'content-type': 'application/octet-stream' },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        res.on('data', (c: Buffer) => {
          received += c.length;
          if (received >= nextSample) {
            nextSample += 128 * MiB;
            sampling = sampling.then(async () => {
              peak = Math.max(peak, (await stats()).rss);
            });
          }
        });
        res.on('end', () => resolve());
        res.on('error', reject);
      });
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
    await sampling;
    peak = Math.max(peak, (await stats()).rss);
    assert.equal(received, total);
    const growth = peak - baseline;
    assert.ok(growth < 64 * MiB, `server RSS grew by ${(growth / MiB).toFixed(1)} MiB (baseline ${(baseline / MiB).toFixed(1)} MiB)`);
  });
}
