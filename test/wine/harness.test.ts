// The Wine harness itself: node.exe under Wine starts, reports, serves to Linux
// clients, exits with its own code, and stop() leaves no process behind.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, repoRoot, startWineNode, toWinePath, wineHost, type WineHost } from './harness.js';
import { request } from './client.js';

const host = await wineHost();
const skip = 'unavailable' in host ? `Wine tier unavailable: ${host.unavailable}` : undefined;
const probe = 'dist/test/wine/fixtures/harness-probe.js';

/** True while `pid` is a live process (an exited one waiting to be reaped does not count). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Linux pids whose environment names `prefix` as WINEPREFIX. */
function processesWithPrefix(prefix: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(`WINEPREFIX=${prefix}`)) found.push(Number(name));
    } catch {
      // gone
    }
  }
  return found;
}

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

  test('a test process that never calls stop() still exits, leaving no Wine process or prefix behind', async () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'test', 'wine', 'leak-probe.js')], {
      encoding: 'utf8',
      env: process.env,
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const { prefix, pid } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { prefix: string; pid: number };
    assert.ok(prefix.includes('wine-runs'), prefix);
    assert.equal(existsSync(prefix), false, 'the private prefix was removed');
    assert.equal(isRunning(pid), false, 'the Wine process is gone');
    assert.deepEqual(processesWithPrefix(prefix), [], 'no process of that prefix is left');
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
