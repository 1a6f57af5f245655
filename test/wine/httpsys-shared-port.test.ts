// Two request queues in two Wine processes share one port by URL prefix through
// the Http.sys backend, the way a service sits beside IIS: each process gets
// only the requests under its own prefix.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { freePort, startWineNode, wineHost, type WineHost } from './harness.js';
import { startHttpSysServer, wireJson, type HttpSysServer, type InfoEcho } from './httpsys-fixture.js';
import { unavailableReason } from './native-fixture.js';

const host = await wineHost();
const skip = unavailableReason(host);
const WINE_LISTENERS =
  "Wine 8's http.sys closes every listening socket when any request queue closes, so new connections fail once another process has ended";

describe('Http.sys backend under Wine: two processes, one port', { skip }, () => {
  let alpha: HttpSysServer;
  let beta: HttpSysServer;
  let port: number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });
  // One connection to each process opened up front: under Wine they outlive the listeners.
  const toAlpha = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const toBeta = new http.Agent({ keepAlive: true, maxSockets: 1 });

  before(async () => {
    port = await freePort();
    alpha = await startHttpSysServer(host as WineHost, { name: 'alpha', urls: [`http://+:${port}/alpha/`] });
    beta = await startHttpSysServer(host as WineHost, { name: 'beta', urls: [`http://+:${port}/beta/`] });
    await wireJson<InfoEcho>(port, '/alpha/info', { agent: toAlpha });
    await wireJson<InfoEcho>(port, '/beta/info', { agent: toBeta });
  });
  after(async () => {
    agent.destroy();
    toAlpha.destroy();
    toBeta.destroy();
    await alpha?.proc.stop();
    await beta?.proc.stop();
  });

  test('each process answers only its own prefix, with that prefix reported', async () => {
    const a = await wireJson<InfoEcho>(port, '/alpha/info', { agent });
    const b = await wireJson<InfoEcho>(port, '/beta/info', { agent });
    assert.equal(a.fixture, 'alpha');
    assert.equal(a.prefix, `http://+:${port}/alpha/`);
    assert.equal(b.fixture, 'beta');
    assert.equal(b.prefix, `http://+:${port}/beta/`);
  });

  test('interleaved concurrent requests each reach the right process', async () => {
    const paths = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? `/alpha/info?i=${i}` : `/beta/info?i=${i}`));
    const answers = await Promise.all(paths.map((p) => wireJson<InfoEcho>(port, p, { agent })));
    answers.forEach((info, i) => {
      assert.equal(info.fixture, i % 2 === 0 ? 'alpha' : 'beta');
      assert.equal(info.query, `i=${i}`);
    });
  });

  test('a third process registering a prefix already taken gets HttpSysError with the Win32 facts', async () => {
    const proc = startWineNode(host as WineHost, {
      script: 'dist/test/wine/fixtures/httpsys-server.js',
      name: 'httpsys-collision',
      env: { HTTPSYS_FIXTURE: JSON.stringify({ name: 'gamma', urls: [`http://+:${port}/beta/`] }) },
    });
    try {
      const fatal = await proc.nextReport<{ name: string; message: string; syscall: string; winError: number; code: string }>('fatal');
      assert.equal(fatal.name, 'HttpSysError');
      assert.equal(fatal.syscall, 'HttpAddUrlToUrlGroup');
      assert.equal(fatal.winError, 183);
      assert.equal(fatal.code, 'ERROR_ALREADY_EXISTS');
      assert.match(fatal.message, new RegExp(`registering http://\\+:${port}/beta/`));
    } finally {
      await proc.stop();
    }
    // The owner keeps its prefix.
    assert.equal((await wireJson<InfoEcho>(port, '/beta/info', { agent: toBeta })).fixture, 'beta');
  });

  test('one process closing its queue exits by itself and leaves the other serving', async () => {
    await wireJson<{ closing: boolean }>(port, '/alpha/control/close', { agent: toAlpha });
    await alpha.proc.nextReport('closed');
    const exit = await alpha.proc.waitForExit({ timeoutMs: 30_000 });
    assert.equal(exit.code, 0, alpha.proc.tail());
    assert.equal((await wireJson<InfoEcho>(port, '/beta/info', { agent: toBeta })).fixture, 'beta');
  });

  test('after one process closed, new connections reach the other', async (t) => {
    if (beta.capabilities.host === 'wine') {
      t.skip(`new connections to the other process: ${WINE_LISTENERS}`);
      return;
    }
    const b = await wireJson<InfoEcho>(port, '/beta/info', { agent: false });
    assert.equal(b.fixture, 'beta');
  });
});
