// Two request queues in two Wine processes share one port by URL prefix through
// the Http.sys backend, the way a service sits beside IIS: each process gets
// only the requests under its own prefix.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { freePort, wineHost, type WineHost } from './harness.js';
import { wireJson } from './httpsys-fixture.js';
import { startHttpSysServer, type HttpSysServer, type InfoEcho } from './httpsys-fixture.js';
import { unavailableReason } from './native-fixture.js';

const host = await wineHost();
const skip = unavailableReason(host);

describe('Http.sys backend under Wine: two processes, one port', { skip }, () => {
  let alpha: HttpSysServer;
  let beta: HttpSysServer;
  let port: number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });

  before(async () => {
    port = await freePort();
    // Start one after the other: both register on the same port.
    alpha = await startHttpSysServer(host as WineHost, { name: 'alpha', urls: [`http://+:${port}/alpha/`] });
    beta = await startHttpSysServer(host as WineHost, { name: 'beta', urls: [`http://+:${port}/beta/`] });
  });
  after(async () => {
    agent.destroy();
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

  test('one process closing its queue leaves the other serving, and exits by itself', async (t) => {
    // A connection to beta opened before alpha closes.
    const kept = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      assert.equal((await wireJson<InfoEcho>(port, '/beta/info', { agent: kept })).fixture, 'beta');
      await wireJson<{ closing: boolean }>(port, '/alpha/control/close', { agent: false });
      await alpha.proc.nextReport('closed');
      const exit = await alpha.proc.waitForExit({ timeoutMs: 30_000 });
      assert.equal(exit.code, 0, alpha.proc.tail());
      assert.equal((await wireJson<InfoEcho>(port, '/beta/info', { agent: kept })).fixture, 'beta');
    } finally {
      kept.destroy();
    }
    if (beta.capabilities.host === 'wine') {
      t.skip("new connections after the other process closed: Wine 8's http.sys closes every listening socket when any request queue closes");
      return;
    }
    const b = await wireJson<InfoEcho>(port, '/beta/info', { agent: false });
    assert.equal(b.fixture, 'beta');
  });
});
