// Worker threads: a worker serving through the addon is terminated without
// closing anything; the environment teardown must release its queue, URL group
// and session (a new worker then serves the same prefix), and nothing may call
// into the dead environment or keep the process alive.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, startWineNode, wineHost, type WineHost, type WineProcess } from './harness.js';
import { requestJson } from './client.js';
import { unavailableReason } from './native-fixture.js';

const host = await wineHost();
const skip = unavailableReason(host);

describe('addon under Wine: worker threads', { skip, timeout: 300_000 }, () => {
  let proc: WineProcess;
  let port: number;
  let controlPort: number;

  before(async () => {
    [port, controlPort] = await Promise.all([freePort(), freePort()]);
    proc = startWineNode(host as WineHost, {
      script: 'dist/test/wine/fixtures/native-worker.js',
      name: 'workers',
      env: { FIXTURE_CONFIG: JSON.stringify({ prefix: `http://+:${port}/work/` }), CONTROL_PORT: String(controlPort) },
    });
    await proc.nextReport('ready');
  });
  after(async () => {
    await proc?.stop();
  });

  const control = <T>(path: string): Promise<T> => proc.whileRunning(requestJson<T>(controlPort, path, { method: 'POST', agent: false }));
  const served = (path: string): Promise<{ worker: string; rawUrl: string }> => proc.whileRunning(requestJson(port, path, { agent: false }));

  test('a worker serves requests through the addon', async () => {
    assert.deepEqual(await control('/start?name=first'), { started: 'first' });
    for (let i = 0; i < 5; i++) assert.deepEqual(await served(`/work/a?i=${i}`), { worker: 'first', rawUrl: `/work/a?i=${i}` });
  });

  test('terminating it with receives outstanding and nothing closed leaves the process healthy', async () => {
    const r = await control<{ terminated: string; code: number }>('/terminate?name=first');
    assert.equal(r.terminated, 'first');
    assert.equal((await proc.nextReport<{ name: string; code: number }>('worker-exit')).name, 'first');
    assert.equal(proc.hasExited, false);
  });

  test('the teardown released the prefix: a new worker serves it', async () => {
    assert.deepEqual(await control('/start?name=second'), { started: 'second' });
    for (let i = 0; i < 5; i++) assert.deepEqual(await served(`/work/b?i=${i}`), { worker: 'second', rawUrl: `/work/b?i=${i}` });
    await control('/terminate?name=second');
    await proc.nextReport('worker-exit');
  });

  test('with its workers gone the process exits by itself with code 0', async () => {
    assert.deepEqual(await control('/exit'), { exiting: true });
    assert.deepEqual(await proc.waitForExit(), { code: 0, signal: null }, proc.tail());
    assert.deepEqual(proc.reports().filter((r) => r.type === 'fatal'), []);
  });
});
