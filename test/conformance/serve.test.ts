/** serve.js as a process: ready line, closing on SIGTERM, SIGINT and stdin end, bad arguments. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { ClosedReport, ReadyReport } from './case-context.js';
import { endpointOf } from './case-context.js';
import { h1 } from './clients.js';
import { serveScript } from './serve-target.js';

interface Run {
  child: ChildProcessWithoutNullStreams;
  reports: () => Record<string, unknown>[];
  next: (type: string) => Promise<Record<string, unknown>>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

function run(args: string[]): Run {
  const child = spawn(process.execPath, [serveScript, ...args], { stdio: 'pipe' });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const reports = (): Record<string, unknown>[] =>
    out
      .split('\n')
      .filter((l) => l.startsWith('@@report '))
      .map((l) => JSON.parse(l.slice(9)) as Record<string, unknown>);
  const next = async (type: string): Promise<Record<string, unknown>> => {
    for (;;) {
      const found = reports().find((r) => r['type'] === type);
      if (found) return found;
      const done = await Promise.race([exit.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 50))]);
      if (done && !reports().some((r) => r['type'] === type)) throw new Error(`serve.js exited before '${type}': ${err}`);
    }
  };
  return { child, reports, next, exit, stderr: () => err };
}

test('serve.js prints one ready line, serves, and closes cleanly on SIGTERM', async () => {
  const r = run(['--backend', 'node', '--url', 'http://+:0/a/', '--url', 'http://+:0/b/']);
  const ready = (await r.next('ready')) as unknown as ReadyReport;
  assert.equal(ready.backend, 'node');
  assert.equal(ready.queues.length, 2);
  assert.equal(ready.urls.length, 2);
  assert.equal(endpointOf(ready.urls[0]!).port, endpointOf(ready.urls[1]!).port, 'port-0 prefixes share one port');
  assert.equal(ready.capabilities?.backend, 'node');
  assert.equal(ready.capabilities?.capabilities.streaming, true);
  const { port } = endpointOf(ready.urls[1]!);
  assert.equal((await h1({ port, path: '/b/caps' })).status, 200);
  r.child.kill('SIGTERM');
  const closed = (await r.next('closed')) as unknown as ClosedReport;
  assert.deepEqual(closed.logged, { errors: 0, warns: 0 });
  assert.deepEqual(await r.exit, { code: 0, signal: null });
  assert.equal(r.reports().filter((x) => x['type'] === 'ready').length, 1);
});

test('serve.js closes on SIGINT and when its stdin ends', async () => {
  const a = run(['--backend', 'node', '--url', 'http://+:0/x/']);
  await a.next('ready');
  a.child.kill('SIGINT');
  await a.next('closed');
  assert.equal((await a.exit).code, 0);

  const b = run(['--backend', 'node', '--url', 'http://+:0/y/']);
  await b.next('ready');
  b.child.stdin.end();
  await b.next('closed');
  assert.equal((await b.exit).code, 0);
});

test('serve.js refuses bad arguments with exit code 2 and a usage line, and bad prefixes with 1', async () => {
  for (const args of [[], ['--backend', 'iis', '--url', 'http://+:0/'], ['--url'], ['--what']]) {
    const r = run(args);
    const { code } = await r.exit;
    assert.equal(code, 2, args.join(' '));
    assert.match(r.stderr(), /usage: serve\.js/);
  }
  const bad = run(['--backend', 'node', '--url', 'http://+:0/no-slash']);
  assert.equal((await bad.exit).code, 1);
  assert.match(bad.stderr(), /must end with "\/"/);
  const fatal = bad.reports().find((x) => x['type'] === 'fatal');
  assert.equal(fatal?.['name'], 'UrlPrefixError');
});
