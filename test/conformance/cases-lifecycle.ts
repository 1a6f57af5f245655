/** Graceful and forced shutdown with exchanges in flight; several queues on one port by prefix. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { endpointOf, type CaseContext, type RunningServer } from './case-context.js';
import { h1, h1Json, h2, h2Connect, type H1Result } from './clients.js';
import { newTag } from './cases-streams.js';
import type { ExchangeEvent } from './app.js';
import { CASE, fact, h2Available } from './skip.js';

interface Labelled {
  label: string;
  prefix: string;
}

async function event(port: number, path: string, id: string, want: string): Promise<ExchangeEvent> {
  const r = await h1({ port, path: `${path}event?id=${encodeURIComponent(id)}&want=${want}` });
  if (r.status !== 200) throw new Error(`event ${id} never reached '${want}': ${r.body.toString()}`);
  return JSON.parse(r.body.toString()) as ExchangeEvent;
}

function settle(p: Promise<H1Result>): Promise<{ status: number; body: string } | { error: string }> {
  return p.then(
    (r) => ({ status: r.status, body: r.body.toString() }),
    (e: Error & { code?: string }) => ({ error: e.code ?? e.message }),
  );
}

export function registerLifecycleCases(ctx: CaseContext): void {
  /** A prefix in the target's scheme, e.g. p('+:0/a/') -> 'http://+:0/a/'. */
  const p = (rest: string): string => `${ctx.scheme}://${rest}`;

  test('graceful close lets in-flight exchanges finish', CASE, async () => {
    const server = await ctx.target.start([`${ctx.scheme}://+:0/grace/`]);
    try {
      const { port } = endpointOf(server.ready.urls[0]!);
      const id = newTag('graceful');
      const inFlight = settle(h1({ port, path: `/grace/wait?id=${id}&ms=1500` }));
      await event(port, '/grace/', id, 'started');
      const report = await server.close({ graceful: 60_000 });
      const result = await inFlight;
      assert.deepEqual(result, { status: 200, body: 'waited' });
      assert.equal(report.events[id]?.finished, true);
      assert.equal(report.events[id]?.abort, undefined, 'a finished exchange is not aborted');
      const after = await settle(h1({ port, path: '/grace/caps' }));
      assert.ok('error' in after, 'a closed server takes no new requests');
    } finally {
      await server.kill();
    }
  });

  test('forced close aborts in-flight exchanges and fires their signals', CASE, async () => {
    const server = await ctx.target.start([`${ctx.scheme}://+:0/force/`]);
    try {
      const { port } = endpointOf(server.ready.urls[0]!);
      const id = newTag('forced');
      const inFlight = settle(h1({ port, path: `/force/wait?id=${id}` }));
      await event(port, '/force/', id, 'started');
      const report = await server.close({ graceful: 0 });
      const result = await inFlight;
      assert.ok('error' in result || result.status >= 500, `the client sees the exchange cut: ${JSON.stringify(result)}`);
      assert.equal(report.events[id]?.abort?.name, 'QueueClosedError');
    } finally {
      await server.kill();
    }
  });

  test('close after the grace period aborts what is left and keeps what finished', CASE, async () => {
    const server = await ctx.target.start([`${ctx.scheme}://+:0/deadline/`]);
    let session: Awaited<ReturnType<typeof h2Connect>> | undefined;
    try {
      const caps = server.ready.capabilities ?? ctx.caps();
      const { port } = endpointOf(server.ready.urls[0]!);
      const quick = newTag('quick');
      const stuck = newTag('stuck');
      const quickResult = settle(h1({ port, path: `/deadline/wait?id=${quick}&ms=100` }));
      const stuckResult = settle(h1({ port, path: `/deadline/wait?id=${stuck}` }));
      let h2Stuck: string | undefined;
      let h2Result: Promise<{ status: number; rstCode: number }> | undefined;
      if (h2Available(caps)) {
        session = await h2Connect(port);
        h2Stuck = newTag('stuck-h2');
        h2Result = h2(session, { ':path': `/deadline/wait?id=${h2Stuck}` });
        await event(port, '/deadline/', h2Stuck, 'started');
      }
      await event(port, '/deadline/', quick, 'started');
      await event(port, '/deadline/', stuck, 'started');
      const report = await server.close({ graceful: 3000 });
      assert.deepEqual(await quickResult, { status: 200, body: 'waited' });
      const s = await stuckResult;
      assert.ok('error' in s || s.status >= 500, JSON.stringify(s));
      assert.equal(report.events[quick]?.abort, undefined);
      assert.equal(report.events[stuck]?.abort?.name, 'QueueClosedError');
      assert.match(report.events[stuck]?.abort?.message ?? '', /3000 ms/);
      if (h2Stuck !== undefined) {
        const h = await h2Result!;
        assert.notEqual(h.status, 200);
        assert.equal(report.events[h2Stuck]?.abort?.name, 'QueueClosedError');
      }
    } finally {
      session?.destroy();
      await server.kill();
    }
  });

  test('two queues on one port, routed by longest prefix', CASE, async () => {
    const server = await ctx.target.start([p('+:0/alpha/'), p('+:0/beta/'), p('+:0/alpha/deeper/')]);
    try {
      const ports = new Set(server.ready.urls.map((u) => endpointOf(u).port));
      assert.equal(ports.size, 1, 'all queues share one port');
      const [port] = [...ports] as [number];
      const who = async (path: string): Promise<string> => (await h1Json<Labelled>(port, path)).label;
      assert.equal(await who('/alpha/inspect'), p('+:0/alpha/'));
      assert.equal(await who('/beta/inspect'), p('+:0/beta/'));
      assert.equal(await who('/alpha/deeper/inspect'), p('+:0/alpha/deeper/'));
      const caps = server.ready.capabilities ?? ctx.caps();
      // Http.sys compares paths case-insensitively (hostFacts.caseInsensitivePaths).
      if (fact(caps, 'caseInsensitivePaths')) {
        assert.equal(await who('/ALPHA/Inspect'), p('+:0/alpha/'));
        assert.equal(await who('/Alpha/DEEPER/inspect'), p('+:0/alpha/deeper/'));
      }
      if (fact(caps, 'unmatchedUrl404')) assert.equal((await h1({ port, path: '/gamma/inspect' })).status, 404);
      if (h2Available(caps)) {
        const session = await h2Connect(port);
        try {
          const a = await h2(session, { ':path': '/beta/inspect' });
          assert.equal((JSON.parse(a.body.toString()) as Labelled).label, p('+:0/beta/'));
          const d = await h2(session, { ':path': '/alpha/deeper/inspect' });
          assert.equal((JSON.parse(d.body.toString()) as Labelled).label, p('+:0/alpha/deeper/'));
        } finally {
          session.close();
        }
      }
    } finally {
      await closeQuietly(server);
    }
  });

  test('host-specific prefixes, strong and weak wildcards route like Http.sys', CASE, async (t) => {
    // Weak wildcards are registered and checked only where the host routes them (hostFacts.weakWildcards).
    const weak = fact(ctx.caps(), 'weakWildcards');
    if (!weak) t.diagnostic('weak-wildcard routing not checked: the server reports it does not route * prefixes (hostFacts.weakWildcards is false)');
    const server = await ctx.target.start([
      p('+:0/strong/'),
      p('localhost:0/strong/deep/'),
      p('localhost:0/named/'),
      ...(weak ? [p('*:0/named/'), p('*:0/weak/')] : []),
    ]);
    try {
      const port = endpointOf(server.ready.urls[0]!).port;
      const who = async (host: string, path: string): Promise<string> =>
        (await h1Json<Labelled>(port, path, { headers: { Host: `${host}:${port}` } })).label;
      // The strong wildcard is tried before any host-specific prefix, even a longer one
      // (hostFacts.strongWildcardFirst; a host without the classes picks the longest path).
      const caps = server.ready.capabilities ?? ctx.caps();
      const strongFirst = fact(caps, 'strongWildcardFirst');
      assert.equal(await who('localhost', '/strong/deep/inspect'), strongFirst ? p('+:0/strong/') : p('localhost:0/strong/deep/'));
      assert.equal(await who('other.example', '/strong/deep/inspect'), p('+:0/strong/'));
      // A host-specific prefix beats the weak wildcard for its host only.
      assert.equal(await who('localhost', '/named/inspect'), p('localhost:0/named/'));
      assert.equal(await who('LocalHost', '/named/inspect'), p('localhost:0/named/'), 'host names compare case-insensitively');
      if (weak) {
        assert.equal(await who('other.example', '/named/inspect'), p('*:0/named/'));
        assert.equal(await who('other.example', '/weak/inspect'), p('*:0/weak/'));
        assert.equal(await who('localhost', '/weak/inspect'), p('*:0/weak/'));
      }
    } finally {
      await closeQuietly(server);
    }
  });
}

async function closeQuietly(server: RunningServer): Promise<void> {
  await server.close().catch(() => server.kill());
}
