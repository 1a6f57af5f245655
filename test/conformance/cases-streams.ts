/** Trailers, resets, client aborts and many concurrent exchanges. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CapsAnswer, CaseContext } from './case-context.js';
import { eventually, h1, h1Json, h2, h2Connect, request } from './clients.js';
import type { ExchangeEvent } from './app.js';
import { CASE, fact, need, needH2 } from './skip.js';

const NO_ABORT_SIGNAL = 'the server reports its request signal does not fire on client disconnect (hostFacts.clientAbortSignal is false)';

let tagCounter = 0;
export function newTag(what: string): string {
  return `${what}-${process.pid}-${++tagCounter}-${Date.now().toString(36)}`;
}

export async function waitEvent(port: number, id: string, want: 'started' | 'finished' | 'abort' | 'body'): Promise<ExchangeEvent> {
  const r = await h1({ port, path: `/conf/event?id=${encodeURIComponent(id)}&want=${want}` });
  if (r.status !== 200) throw new Error(`event ${id} never reached '${want}': ${r.body.toString()}`);
  return JSON.parse(r.body.toString()) as ExchangeEvent;
}

export async function settledStats(port: number): Promise<{ inFlight: number; connections: number | null }> {
  return eventually(
    () => h1Json<{ inFlight: number; connections: number | null }>(port, '/conf/stats'),
    (s) => s.inFlight === 0 && (s.connections === null || s.connections <= 1),
    'in-flight exchanges back to 0 and client connections closed',
  );
}

async function h2Caps(port: number): Promise<CapsAnswer> {
  const session = await h2Connect(port);
  try {
    const r = await h2(session, { ':path': '/conf/caps' });
    return JSON.parse(r.body.toString()) as CapsAnswer;
  } finally {
    session.close();
  }
}

export function registerStreamCases(ctx: CaseContext): void {
  test('trailers are read by a real HTTP/2 client after the body', CASE, async (t) => {
    if (!needH2(t, ctx.caps())) return;
    const caps = await h2Caps(ctx.port());
    if (!need(t, caps.capabilities.trailers, 'the server reports no trailers on HTTP/2 (capabilities.trailers is false)')) return;
    const session = await h2Connect(ctx.port());
    try {
      const r = await h2(session, { ':path': '/conf/trailers' });
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'first;second');
      assert.ok(r.trailers, 'trailers arrived');
      assert.equal(r.trailers['x-trailer-bytes'], '12', 'the trailer function ran after the whole body');
      assert.equal(r.trailers['x-trailer-list'], 'a, b');
      assert.equal(r.trailers['grpc-status'], '0');
      const echo = await h2(session, { ':method': 'POST', ':path': '/conf/echo?trailers=1' }, 'x'.repeat(100_000));
      assert.equal(echo.body.length, 100_000);
      assert.equal(echo.trailers?.['x-echo-bytes'], '100000');
    } finally {
      session.close();
    }
  });

  test('trailers on an HTTP/1.1 chunked response', CASE, async (t) => {
    if (!need(t, ctx.caps().capabilities.trailers, 'the server reports no trailers on HTTP/1.1 (capabilities.trailers is false)')) return;
    const r = await h1({ port: ctx.port(), path: '/conf/trailers', headers: { te: 'trailers' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(r.body.toString(), 'first;second');
    assert.equal(r.trailers['x-trailer-bytes'], '12');
    assert.equal(r.trailers['grpc-status'], '0');
    const list: string[] = [];
    for (let i = 0; i < r.rawTrailers.length; i += 2) if (r.rawTrailers[i]!.toLowerCase() === 'x-trailer-list') list.push(r.rawTrailers[i + 1]!);
    assert.deepEqual(list, ['a', 'b']);
  });

  test('reset codes are seen by a real HTTP/2 client', CASE, async (t) => {
    if (!needH2(t, ctx.caps())) return;
    const caps = await h2Caps(ctx.port());
    if (!need(t, caps.capabilities.reset, 'the server reports no stream reset (capabilities.reset is false)')) return;
    const session = await h2Connect(ctx.port());
    try {
      for (const code of [0x8, 0xb, 0x7, 0x2, 0xd]) {
        const r = await h2(session, { ':path': `/conf/reset?code=${code}` });
        assert.equal(r.rstCode, code, `reset ${code}`);
        assert.equal(r.status, 0, 'no response came before the reset');
      }
      // A reset thrown from the body iterator after some data: headers and part of the body arrive first.
      const mid = await h2(session, { ':path': '/conf/reset?code=7&after=100000' });
      assert.equal(mid.status, 200);
      assert.equal(mid.rstCode, 7);
      assert.ok(mid.body.length <= 100_000);
      // Any other body error resets with INTERNAL_ERROR, and the session keeps working.
      const failed = await h2(session, { ':path': '/conf/body-error?after=1000' });
      assert.equal(failed.rstCode, 2);
      const ok = await h2(session, { ':path': '/conf/caps' });
      assert.equal(ok.status, 200);
    } finally {
      session.close();
    }
  });

  test('a reset on HTTP/1.1 drops the connection', CASE, async (t) => {
    if (!need(t, fact(ctx.caps(), 'dropConnection'), 'the server reports it cannot drop an HTTP/1.1 connection (hostFacts.dropConnection is false)')) return;
    const outcome = await h1({ port: ctx.port(), path: '/conf/reset?code=8' }).then(
      (r) => `answered ${r.status}`,
      (err: Error & { code?: string }) => err.code ?? err.message,
    );
    assert.match(outcome, /ECONNRESET|socket hang up/);
    assert.equal((await h1({ port: ctx.port(), path: '/conf/caps' })).status, 200);
  });

  test('a client abort fires the handler signal (HTTP/1.1)', CASE, async (t) => {
    if (!need(t, fact(ctx.caps(), 'clientAbortSignal'), NO_ABORT_SIGNAL)) return;
    const id = newTag('abort-h1');
    const req = request({ host: '127.0.0.1', port: ctx.port(), path: `/conf/wait?id=${id}`, agent: false });
    req.on('error', () => undefined);
    req.end();
    await waitEvent(ctx.port(), id, 'started');
    req.destroy();
    const e = await waitEvent(ctx.port(), id, 'abort');
    assert.equal(e.abort?.name, 'ClientDisconnectedError');
    await settledStats(ctx.port());
  });

  test('a client RST_STREAM fires the handler signal with its code (HTTP/2)', CASE, async (t) => {
    if (!needH2(t, ctx.caps())) return;
    if (!need(t, fact(ctx.caps(), 'clientAbortSignal'), NO_ABORT_SIGNAL)) return;
    const session = await h2Connect(ctx.port());
    try {
      const id = newTag('abort-h2');
      const stream = session.request({ ':path': `/conf/wait?id=${id}` });
      stream.on('error', () => undefined);
      await waitEvent(ctx.port(), id, 'started');
      stream.close(0x8);
      const e = await waitEvent(ctx.port(), id, 'abort');
      assert.equal(e.abort?.name, 'ClientResetError');
      assert.equal(e.abort?.code, 0x8);
      // Closing the whole connection counts as a disconnect.
      const id2 = newTag('abort-h2-conn');
      const s2 = session.request({ ':path': `/conf/wait?id=${id2}` });
      s2.on('error', () => undefined);
      await waitEvent(ctx.port(), id2, 'started');
      session.destroy();
      const e2 = await waitEvent(ctx.port(), id2, 'abort');
      assert.ok(e2.abort?.name === 'ClientDisconnectedError' || e2.abort?.name === 'ClientResetError', String(e2.abort?.name));
    } finally {
      session.destroy();
    }
    await settledStats(ctx.port());
  });

  test('1,000 concurrent exchanges over HTTP/1.1 connections', CASE, async () => {
    const id = newTag('barrier-h1');
    const n = 1000;
    const all = await Promise.all(
      Array.from({ length: n }, () => h1({ port: ctx.port(), path: `/conf/barrier?id=${id}&n=${n}` })),
    );
    assert.equal(all.filter((r) => r.status === 200).length, n);
    await settledStats(ctx.port());
  });

  test('1,000 concurrent streams on one HTTP/2 connection', CASE, async (t) => {
    if (!needH2(t, ctx.caps())) return;
    const session = await h2Connect(ctx.port());
    try {
      const id = newTag('barrier-h2');
      const n = 1000;
      const all = await Promise.all(Array.from({ length: n }, () => h2(session, { ':path': `/conf/barrier?id=${id}&n=${n}` })));
      assert.equal(all.filter((r) => r.status === 200).length, n);
    } finally {
      session.close();
    }
    await settledStats(ctx.port());
  });
}
