// The Wine tier: the cross-built addon inside the official Windows node.exe
// under Wine, serving real HTTP to clients on Linux.
//
//   node scripts/wine/run.mjs [substring...]     run it alone (scripts/test.mjs --wine-only does the same)
//
// Steps: setup (setup.mjs), then the native test program build/win/native-tests.exe
// under Wine (TAP-like `ok -` / `not ok -` lines), then Linux node --test on
// dist/test/wine/**/*.test.js, whose tests start node.exe processes under Wine
// through test/wine/harness.ts.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cleanStaleRunPrefixes, createRunPrefix, root, setupWine } from './setup.mjs';

/** Environment variable carrying the prepared host to the test files (see test/wine/harness.ts). */
const WINE_HOST_ENV = 'HTTPSYS_GRPC_WINE_HOST';
/** Upper bounds that turn a hang into a failure; the whole tier normally takes well under them. */
const NATIVE_TESTS_TIMEOUT_MS = 120_000;
/** The node:test files together; WINE_TIER_TIMEOUT_S overrides the 15 minutes. */
const NODE_TESTS_TIMEOUT_MS = Number(process.env.WINE_TIER_TIMEOUT_S ?? 900) * 1000;

function findTests(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'fixtures') findTests(p, out);
    } else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

/** Runs a process with stdout/stderr in a file (Wine programs want regular files), resolving with its exit. */
function runToFile(cmd, args, { env, cwd, timeoutMs, file }) {
  return new Promise((resolve) => {
    const fd = openSync(file, 'w');
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, timedOut, error: e });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut });
    });
  });
}

/** Runs build/win/native-tests.exe under Wine and counts its result lines. */
async function runNativeTests(setup, log) {
  const counts = { passed: 0, failed: 0, skipped: 0, failures: [] };
  if (!setup.addon) {
    counts.skipped++;
    log(`  ﹣ native-tests.exe (skipped: ${setup.addonProblem})`);
    return counts;
  }
  if (!setup.nativeTests) {
    counts.failed++;
    counts.failures.push('native-tests.exe › not built: npm run build:win must produce build/win/native-tests.exe');
    return counts;
  }
  const dir = mkdtempSync(join(tmpdir(), 'httpsys-native-tests-'));
  const file = join(dir, 'native-tests.log');
  log(`\n▶ native-tests.exe under Wine (${relative(root, setup.nativeTests)})`);
  const r = await runToFile(setup.wine, [setup.nativeTests], { env: setup.env, cwd: root, timeoutMs: NATIVE_TESTS_TIMEOUT_MS, file });
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  rmSync(dir, { recursive: true, force: true });
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimEnd();
    const m = /^(not ok|ok)\b\s*(?:\d+\s*)?-\s*(.*)$/.exec(line);
    if (!m) {
      if (line.startsWith('#')) log(`  ${line}`);
      continue;
    }
    const [, verdict, rest] = m;
    const skip = /#\s*skip\b\s*(.*)$/i.exec(rest);
    if (skip) {
      counts.skipped++;
      log(`  ﹣ ${rest.replace(/\s*#\s*skip\b.*$/i, '')} (skipped: ${skip[1] || 'no reason given'})`);
    } else if (verdict === 'ok') {
      counts.passed++;
      log(`  ✔ ${rest}`);
    } else {
      counts.failed++;
      counts.failures.push(`native-tests.exe › ${rest}`);
      log(`  ✖ ${rest}`);
    }
  }
  const total = counts.passed + counts.failed + counts.skipped;
  if (r.timedOut) {
    counts.failed++;
    counts.failures.push(`native-tests.exe › did not finish within ${NATIVE_TESTS_TIMEOUT_MS / 1000} s`);
  } else if (r.code !== 0 && counts.failed === 0) {
    counts.failed++;
    counts.failures.push(`native-tests.exe › exited with ${r.code ?? r.signal ?? r.error?.message} after ${total} results`);
  } else if (total === 0) {
    counts.failed++;
    counts.failures.push('native-tests.exe › printed no `ok -` / `not ok -` lines');
  }
  if (counts.failed) log(text.split('\n').slice(-30).join('\n'));
  log(`  native-tests.exe: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  return counts;
}

/** Pids whose parent is `ppid` (from /proc). */
function childrenOf(ppid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      // Fields after the parenthesised command: state, ppid, ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs the Linux-side node:test files of the tier. */
async function runNodeTests(setup, files, log) {
  const dir = mkdtempSync(join(tmpdir(), 'httpsys-wine-tests-'));
  const countsFile = join(dir, 'counts.json');
  log(`\n▶ ${files.length} Wine test file(s): ${files.map((f) => relative(root, f)).join(', ')}`);
  const { env: wineEnvironment, wine, wineserver, nodeExe, prefix, wineVersion, addon, addonProblem } = setup;
  const env = {
    ...process.env,
    NODE_ENV: 'test',
    [WINE_HOST_ENV]: JSON.stringify({ wine, wineserver, nodeExe, prefix, env: wineEnvironment, wineVersion, addon, addonProblem }),
  };
  const args = [
    '--test',
    '--test-concurrency=2',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${pathToFileURL(join(root, 'scripts', 'wine', 'tier-reporter.mjs')).href}`,
    `--test-reporter-destination=${countsFile}`,
    ...files.map((f) => relative(root, f)),
  ];
  const r = await new Promise((resolve) => {
    // Own process group, so that on a hang the runner and its test-file processes end together: SIGTERM
    // first (the harness then ends its Wine prefixes), SIGKILL for whatever is left a little later.
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    const signalGroup = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    let killTimer;
    const timer = setTimeout(() => {
      // End the test-file processes first: node --test then reports those files as failed and still
      // writes its counts. Whatever is left after a grace period goes with the whole group.
      log(`\nWine tests: still running after ${NODE_TESTS_TIMEOUT_MS / 1000} s; ending the test files that are left`);
      for (const pid of childrenOf(child.pid)) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      killTimer = setTimeout(() => signalGroup('SIGKILL'), 30_000);
    }, NODE_TESTS_TIMEOUT_MS);
    // Being in its own group, the runner does not see a Ctrl-C at the terminal: pass it on.
    const forward = () => signalGroup('SIGTERM');
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', async (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      process.removeListener('SIGINT', forward);
      process.removeListener('SIGTERM', forward);
      // Test-file processes still winding down (ending their Wine prefixes) get a moment, then are ended,
      // so that every prefix of this run has a dead owner and is removed below.
      for (let i = 0; i < 100 && groupAlive(child.pid); i++) await new Promise((r) => setTimeout(r, 100));
      signalGroup('SIGKILL');
      resolve({ code, signal });
    });
  });
  let counts;
  try {
    counts = JSON.parse(readFileSync(countsFile, 'utf8'));
  } catch {
    counts = { passed: 0, failed: 1, skipped: 0, failures: [`Wine tests: node --test ended with ${r.code ?? r.signal} and no counts`] };
  }
  if (r.code !== 0 && counts.failed === 0) {
    counts.failed++;
    counts.failures.push(`Wine tests: node --test exited with ${r.code ?? r.signal}`);
  }
  if (counts.skips?.length) {
    log(`\nSkipped in the Wine tier (${counts.skips.length}):`);
    for (const s of counts.skips) log(`  ﹣ ${relative(root, s.file).replace(/^dist\//, '')} › ${s.name}: ${s.reason}`);
  }
  delete counts.skips;
  rmSync(dir, { recursive: true, force: true });
  return counts;
}

/**
 * Runs the tier. `required`: a missing Wine, compiler or addon counts as a
 * failure (CI) instead of making the tier unavailable. `filters`: substrings of
 * test file paths (and `native-tests` for the C++ program); empty runs everything.
 *
 * @param {{ required?: boolean, filters?: string[], log?: (line: string) => void }} options
 * @returns {Promise<{ passed: number, failed: number, skipped: number, failures: string[] } | { unavailable: string }>}
 */
export async function runWineTier({ required = false, filters = [], log = (l) => console.log(l) } = {}) {
  const started = Date.now();
  let files = findTests(join(root, 'dist', 'test', 'wine'));
  const matches = (name) => filters.length === 0 || filters.some((f) => name.includes(f));
  files = files.filter(matches);
  const wantNative = matches(join(root, 'build', 'win', 'native-tests.exe'));
  if (files.length === 0 && !wantNative) {
    log(filters.length ? `Wine tier: nothing matches ${filters.join(', ')}` : 'Wine tier: no compiled tests under dist/test/wine (npm run build)');
    return { passed: 0, failed: 0, skipped: 0, failures: [] };
  }

  log('\n═══ Wine tier: the Windows addon in the official node.exe under Wine ═══');
  const setup = await setupWine({ log: (l) => log(`[wine setup] ${l}`), requireAddon: required });
  if ('unavailable' in setup) {
    if (required) return { passed: 0, failed: 1, skipped: 0, failures: [`Wine tier › setup: ${setup.unavailable}`] };
    return setup;
  }
  log(`${setup.wineVersion}; node.exe ${relative(root, setup.nodeExe)}; addon ${setup.addon ? relative(root, setup.addon) : '(none)'}; WINEPREFIX=${relative(root, setup.prefix)}`);

  const total = { passed: 0, failed: 0, skipped: 0, failures: [] };
  const add = (c) => {
    total.passed += c.passed;
    total.failed += c.failed;
    total.skipped += c.skipped;
    total.failures.push(...c.failures);
  };
  if (wantNative) {
    // A private prefix (own wineserver) for the C++ program; ending it ends every Wine process it started.
    const run = createRunPrefix(setup);
    process.once('exit', run.dispose);
    try {
      add(await runNativeTests({ ...setup, prefix: run.prefix, env: run.env }, log));
    } finally {
      run.dispose();
      process.removeListener('exit', run.dispose);
    }
  }
  // Each test file makes its own private prefix through the harness (test/wine/harness.ts).
  if (files.length) add(await runNodeTests(setup, files, log));
  cleanStaleRunPrefixes(setup.wineserver);
  const seconds = Math.round((Date.now() - started) / 1000);
  log(`\nWine tier: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped (${seconds} s)`);
  return total;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const ci = process.env.CI === 'true' || process.env.CI === '1';
  const r = await runWineTier({ required: ci || process.argv.includes('--required'), filters });
  if ('unavailable' in r) {
    console.log(`Wine tier unavailable: ${r.unavailable}`);
    process.exit(ci ? 1 : 0);
  }
  if (r.failures.length) console.log(`failed:\n  ${r.failures.join('\n  ')}`);
  process.exit(r.failed ? 1 : 0);
}
