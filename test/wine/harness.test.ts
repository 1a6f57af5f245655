// The Wine harness itself: node.exe under Wine starts, reports, serves to Linux
// clients, exits with its own code, and stop() leaves no process behind.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { freePort, startWineNode, toWinePath, wineHost, type WineHost } from './harness.js';
import { request } from './client.js';

const host = await wineHost();
const skip = 'unavailable' in host ? `Wine tier unavailable: ${host.unavailable}` : undefined;
const probe = 'dist/test/wine/fixtures/harness-probe.js';

/** Linux pids in the given process group. */
function groupMembers(pgid: number): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,pgid='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter(([, g]) => g === pgid)
    .map(([p]) => p!);
}

describe('Wine harness', { skip, timeout: 300_000 }, () => {
  test('toWinePath maps Linux paths to drive Z:', () => {
    assert.equal(toWinePath('/work/main/dist/x.js'), 'Z:\\work\\main\\dist\\x.js');
  });

  test('node.exe runs as win32 x64, gets arguments and environment, reports JSON', async () => {
    const proc = startWineNode(host as WineHost, { script: probe, args: ['one', 'two words'], env: { PROBE_VALUE: 'from linux' } });
    try {
      const ready = await proc.nextReport<{ platform: string; arch: string; node: string; args: string[]; probe: string }>('ready');
      assert.equal(ready.platform, 'win32');
      assert.equal(ready.arch, 'x64');
      assert.match(ready.node, /^v22\./);
      assert.deepEqual(ready.args, ['one', 'two words']);
      assert.equal(ready.probe, 'from linux');
      await proc.waitFor(/this line goes to stderr/);
      assert.deepEqual(await proc.waitForExit(), { code: 0, signal: null });
    } finally {
      await proc.stop();
    }
  });

  test('a node:http server inside Wine answers Linux clients, and the exit code comes back', async () => {
    const port = await freePort();
    const proc = startWineNode(host as WineHost, { script: probe, env: { PROBE_PORT: String(port) } });
    try {
      await proc.nextReport('ready');
      const r = await request(port, '/hello', { agent: false });
      assert.equal(r.body.toString(), 'probe');
      await request(port, '/exit?code=3', { agent: false });
      assert.deepEqual(await proc.waitForExit(), { code: 3, signal: null });
    } finally {
      await proc.stop();
    }
  });

  test('stop() ends a running process and its whole process group', async () => {
    const port = await freePort();
    const proc = startWineNode(host as WineHost, { script: probe, env: { PROBE_PORT: String(port) } });
    await proc.nextReport('ready');
    assert.ok(groupMembers(proc.pid).length > 0);
    const exit = await proc.stop();
    assert.ok(exit.code !== 0 || exit.signal !== null, `stopped, not exited normally: ${JSON.stringify(exit)}`);
    assert.deepEqual(groupMembers(proc.pid), []);
    assert.equal(proc.hasExited, true);
  });

  test('waitFor fails with the output when the process exits first', async () => {
    const proc = startWineNode(host as WineHost, { script: probe });
    try {
      await assert.rejects(proc.waitFor(/never printed/), /exited .* before printing[\s\S]*@@report/);
    } finally {
      await proc.stop();
    }
  });
});
