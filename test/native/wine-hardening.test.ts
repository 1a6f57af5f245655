// The addon's defences under Wine (the official Windows node.exe hosting the
// cross-built addon): methods borrowed onto the wrong receiver, getters that
// throw or mutate, detached and shared buffers, oversized header lists,
// re-entering a queue from its own callback, and memory over thousands of
// requests. Skipped where Wine or the Windows build is missing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { freePort, startWineNode, wineHost, type WineHost, type WineProcess } from '../wine/harness.js';
import { request, requestJson } from '../wine/client.js';
import { unavailableReason } from '../wine/native-fixture.js';
import type { Outcome } from './fixtures/hardening-server.js';

const host = await wineHost();
const skip = unavailableReason(host);

interface Memory {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly answered: number;
}

describe('addon under Wine: hardening', { skip, timeout: 600_000 }, () => {
  let proc: WineProcess;
  let port: number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  // Connections for the last test, opened while the port still listens (see there).
  const holdAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const secondAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  before(async () => {
    port = await freePort();
    proc = startWineNode(host as WineHost, {
      script: 'dist/test/native/fixtures/hardening-server.js',
      nodeOptions: ['--expose-gc'],
      env: { HARDENING_PORT: String(port) },
      name: 'hardening',
    });
    await proc.nextReport('ready');
    for (const a of [agent, holdAgent, secondAgent]) await proc.whileRunning(request(port, '/h/echo', { agent: a }));
  });
  after(async () => {
    for (const a of [agent, holdAgent, secondAgent]) a.destroy();
    await proc?.stop();
  });

  test('borrowed methods, hostile getters and oversized inputs throw, and the process keeps serving', async (t) => {
    const outcomes = await proc.whileRunning(requestJson<Outcome[]>(port, '/h/cases', { agent }));
    const byName = new Map(outcomes.map((o) => [o.name, o]));
    const typeErrors = [
      'RequestQueue.close on a UrlGroup',
      'RequestQueue.sendResponse on a ServerSession',
      'RequestQueue.start on a UrlGroup',
      'RequestQueue.readBody on the prototype',
      'RequestQueue.close on undefined',
      'RequestQueue.close on a number',
      'RequestQueue.close on a plain object',
      'UrlGroup.addUrl on a RequestQueue',
      'UrlGroup.close on a ServerSession',
      'UrlGroup.bind on a RequestQueue',
      'ServerSession.close on a UrlGroup',
      'ServerSession.createUrlGroup on a RequestQueue',
      'bind to a UrlGroup disguised as a RequestQueue',
      'sendResponse with headers that shrink while read',
      'sendResponse with a 65536-byte header value',
      'sendResponse with 65536 header pairs',
      'sendResponse with 65535 body chunks',
      'readBody with id 0n',
      'readBody with maxBytes 0',
      'readBody with maxBytes Infinity',
      'cancel with id 2n ** 64n',
    ];
    for (const name of typeErrors) {
      await t.test(name, () => {
        const o = byName.get(name);
        assert.ok(o, `case ran: ${name}`);
        assert.notEqual(o.how, 'returned', JSON.stringify(o));
        assert.equal(o.error?.['isTypeError'], true, JSON.stringify(o));
        assert.ok(String(o.error?.['message']).length > 15, JSON.stringify(o));
      });
    }
    await t.test('a getter that throws: its own error comes out', () => {
      const o = byName.get('sendResponse with a throwing status getter');
      assert.equal(o?.error?.['name'], 'RangeError', JSON.stringify(o));
      assert.equal(o?.error?.['message'], 'status getter', JSON.stringify(o));
    });
    for (const name of [
      'sendResponse whose body getter closes the queue',
      'sendResponse with a detached body buffer',
      'sendResponse with a shared body buffer',
    ]) {
      await t.test(`${name}: an Error naming the function and the code`, () => {
        const o = byName.get(name);
        assert.ok(o && o.how !== 'returned', JSON.stringify(o));
        assert.equal(typeof o.error?.['syscall'], 'string', JSON.stringify(o));
        assert.equal(typeof o.error?.['winError'], 'number', JSON.stringify(o));
        assert.equal(typeof o.error?.['code'], 'string', JSON.stringify(o));
      });
    }
    const r = await proc.whileRunning(request(port, '/h/echo', { agent }));
    assert.equal(r.status, 200);
    assert.match(r.body.toString(), /^ok \d+$/);
  });

  test('memory stays flat over thousands of requests', async (t) => {
    const warmUp = 500;
    const measured = 3000;
    for (let i = 0; i < warmUp; i++) await proc.whileRunning(request(port, `/h/echo?w=${i}`, { agent }));
    const before = await proc.whileRunning(requestJson<Memory>(port, '/h/memory', { agent }));
    for (let i = 0; i < measured; i++) {
      const body = i % 3 === 0 ? `payload ${i}`.repeat(20) : undefined;
      await proc.whileRunning(request(port, `/h/echo?i=${i}`, { agent, body, headers: { 'X-Probe': String(i) } }));
    }
    const afterRun = await proc.whileRunning(requestJson<Memory>(port, '/h/memory', { agent }));
    const mib = (n: number): string => `${(n / 1048576).toFixed(2)} MiB`;
    t.diagnostic(
      `after ${warmUp} warm-up requests: rss ${mib(before.rss)}, heap ${mib(before.heapUsed)}, external ${mib(before.external)}; ` +
        `after ${measured} more: rss ${mib(afterRun.rss)}, heap ${mib(afterRun.heapUsed)}, external ${mib(afterRun.external)}`,
    );
    assert.ok(afterRun.answered >= before.answered + measured, 'every request was answered');
    // A leak of one receive buffer (4 KiB) or one request's strings per request would add 10+ MiB here.
    assert.ok(afterRun.rss - before.rss < 8 * 1048576, `rss grew ${mib(afterRun.rss - before.rss)}`);
    assert.ok(afterRun.external - before.external < 1048576, `external grew ${mib(afterRun.external - before.external)}`);
  });
  // Last, on connections opened in before(): Wine's http.sys stops listening on the port once any
  // queue of the process closes (the first test closes one), so only connections opened earlier go on.
  test('a queue answered and closed from inside its own callback: the send settles, later calls reject, the process serves on', async () => {
    const pending = proc.whileRunning(requestJson<Outcome[]>(port, '/h/reenter', { agent: holdAgent }));
    await proc.nextReport('reenter-listening');
    const second = await proc.whileRunning(request(port, '/r/x', { agent: secondAgent }));
    const settled = await pending;
    const byName = new Map(settled.map((o) => [o.name, o]));
    assert.equal(byName.get('close')?.how, 'returned', JSON.stringify(settled));
    const late = byName.get('send after close');
    assert.equal(late?.how, 'rejected', JSON.stringify(settled));
    assert.equal(typeof late?.error?.['syscall'], 'string', JSON.stringify(settled));
    // The answer sent before close() either went out or was cancelled by the close, never both ways at once.
    const first = byName.get('answer before close');
    if (first?.how === 'returned') assert.equal(second.body.toString(), 'second');
    else assert.equal(typeof first?.error?.['winError'], 'number', JSON.stringify(settled));
    const r = await proc.whileRunning(request(port, '/h/echo', { agent }));
    assert.equal(r.status, 200);
  });

  // Ends the process: must stay the last test.
  test('process.exit with receives and an unanswered request in flight exits with its own code', async () => {
    const held = http.request({ host: '127.0.0.1', port, path: '/h/hold', agent: holdAgent });
    held.on('error', () => {});
    held.end();
    await proc.nextReport('holding');
    const exitRequest = request(port, '/h/exit', { agent: secondAgent }).catch(() => undefined);
    const exit = await proc.exited;
    await exitRequest;
    held.destroy();
    assert.deepEqual(exit, { code: 7, signal: null }, proc.tail());
  });
});
