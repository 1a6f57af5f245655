// Wrong JavaScript arguments to the addon throw (TypeError where the argument is
// of the wrong kind) and never crash the Wine-hosted process, which keeps serving.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { freePort, wineHost, type WineHost } from './harness.js';
import { requestJson, type Echo } from './client.js';
import { startNativeServer, unavailableReason, type NativeServer } from './native-fixture.js';
import type { CaseOutcome } from './fixtures/bad-arguments.js';

const host = await wineHost();
const skip = unavailableReason(host);

describe('addon under Wine: bad arguments', { skip, timeout: 300_000 }, () => {
  let server: NativeServer;
  let port: number;
  let outcomes: CaseOutcome[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });

  before(async () => {
    port = await freePort();
    server = await startNativeServer(host as WineHost, { name: 'args', prefixes: [`http://+:${port}/args/`] });
  });
  after(async () => {
    agent.destroy();
    await server?.proc.stop();
  });

  test('the battery runs inside a live request, which is still answered afterwards', async () => {
    outcomes = await server.proc.whileRunning(requestJson<CaseOutcome[]>(port, '/args/control/bad-arguments', { agent }));
    assert.ok(outcomes.length >= 60, `ran ${outcomes.length} cases`);
  });

  test('every case behaves as required', async (t) => {
    assert.ok(outcomes.length > 0, 'the battery ran');
    for (const o of outcomes) {
      await t.test(o.name, () => {
        const detail = JSON.stringify(o);
        if (o.expect === 'ok') {
          assert.equal(o.how, 'returned', detail);
          return;
        }
        assert.notEqual(o.how, 'returned', `expected ${o.expect}, but the call succeeded`);
        assert.ok(o.error, detail);
        assert.equal(typeof o.error['message'], 'string', detail);
        assert.ok((o.error['message'] as string).length > 10, `a message a person can act on: ${detail}`);
        if (o.expect === 'TypeError') assert.equal(o.error['isTypeError'], true, detail);
        else if (o.error['isTypeError'] !== true) {
          // A failed Win32 call: it names the function and the code.
          assert.equal(typeof o.error['syscall'], 'string', detail);
          assert.equal(typeof o.error['winError'], 'number', detail);
          assert.equal(typeof o.error['code'], 'string', detail);
        }
      });
    }
  });

  test('the process keeps serving and reported no failure', async () => {
    for (let i = 0; i < 5; i++) {
      const echo = await requestJson<Echo>(port, `/args/echo?after=${i}`, { agent, body: `after ${i}` });
      assert.equal(echo.fixture, 'args');
      assert.equal(echo.bodyBytes, Buffer.byteLength(`after ${i}`));
    }
    assert.equal(server.proc.hasExited, false);
    assert.deepEqual(server.proc.reports().filter((r) => r.type === 'fatal' || r.type === 'handler-error'), []);
  });
});
