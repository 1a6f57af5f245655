/**
 * Harness for the Wine tier: Linux-side `node:test` files start the official
 * Windows node.exe under Wine, hosting a script compiled into dist/, and then
 * talk to it with real Linux clients (node:http through client.ts, ws, ...).
 *
 * Typical use in a test file:
 *
 * ```ts
 * const host = await wineHost();
 * const skip = 'unavailable' in host ? host.unavailable : undefined;
 * describe('...', { skip }, () => {
 *   let proc: WineProcess;
 *   let port: number;
 *   before(async () => {
 *     port = await freePort();
 *     proc = startWineNode(host as WineHost, {
 *       script: 'dist/test/wine/fixtures/my-server.js',
 *       env: { FIXTURE_CONFIG: JSON.stringify({ port }) },
 *     });
 *     await proc.nextReport('ready');                // the fixture called report('ready', ...)
 *   });
 *   after(() => proc?.stop());                        // always
 *   test('...', async () => {
 *     const r = await proc.whileRunning(request(port, '/a/'));   // fails at once if the process dies
 *   });
 * });
 * ```
 *
 * Facts this harness takes care of:
 * - node.exe's stdout and stderr must be regular files when Wine starts it (a
 *   pipe makes it die with EBADF at the first write), so both go to one file in
 *   a fresh temporary folder; `output()` and `waitFor()` read that file.
 * - A script hosted in Wine reports structured data by printing one line
 *   `@@report {json}` (see fixtures/report.ts); `nextReport(type)` returns them in order.
 * - Linux paths are `Z:\...` inside Wine (`toWinePath`).
 * - Each process runs in its own process group; `stop()` ends that group (and
 *   only that group), and a process-exit hook kills whatever a crashed test left.
 * - Every test process (test file) gets a private Wine prefix (a hard-linked copy
 *   of the prepared one, see scripts/wine/setup.mjs createRunPrefix): its own
 *   wineserver and its own http.sys (which lives in that wineserver's
 *   winedevice.exe). Wine processes started by one test file share ports and URL
 *   prefixes with each other, never with other files or other Wine users on the
 *   machine, and a process that crashes inside http.sys cannot stall them. When
 *   the test process ends, that wineserver and every Wine process in it end too.
 * - Wine 8's http.sys matches header names case-sensitively: a request body is
 *   only seen when the client spells `Content-Length` so (client.ts does; fetch
 *   lower-cases names, so send bodies with node:http). It dispatches a request
 *   only once the whole body has arrived and fails bodies of a few hundred KiB.
 *   A request parsed while no receive is outstanding can wait forever, so a
 *   server facing many concurrent clients under Wine should keep more receives
 *   outstanding than there are clients.
 * - Nothing here asserts timing: timeouts only turn a hang into a failure
 *   carrying the process output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Repository root (the harness is compiled to dist/test/wine/harness.js). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** What a Wine process needs, as prepared by scripts/wine/setup.mjs. */
export interface WineHost {
  /** The `wine` launcher on Linux. */
  readonly wine: string;
  /** Linux path of the official Windows node.exe. */
  readonly nodeExe: string;
  /** The Wine prefix (WINEPREFIX). */
  readonly prefix: string;
  /** Environment for Wine processes (WINEPREFIX, WINEDEBUG, ...). */
  readonly env: Readonly<Record<string, string>>;
  /** `wine --version` output, e.g. "wine-8.0 (Debian 8.0~repack-4)". */
  readonly wineVersion: string;
  /** Linux path of the cross-built addon, or null when it is not built. */
  readonly addon: string | null;
  /** Why the addon is missing, when it is. */
  readonly addonProblem?: string | null;
}

/** What scripts/wine/setup.mjs prepares (the shared base prefix, before a private copy is made). */
interface PreparedWine extends Omit<WineHost, 'addonProblem'> {
  readonly wineserver: string;
  readonly addonProblem?: string | null;
}

/** Environment variable through which scripts/wine/run.mjs hands its prepared setup to test files. */
export const WINE_HOST_ENV = 'HTTPSYS_GRPC_WINE_HOST';

let hostPromise: Promise<WineHost | { unavailable: string }> | undefined;

/**
 * The Wine host for this test process: the setup is taken from the runner's
 * environment when the tier runs through scripts/wine/run.mjs, otherwise prepared
 * here with scripts/wine/setup.mjs (so `node --test dist/test/wine/x.test.js`
 * works on its own). Either way the process gets a private Wine prefix, removed
 * with all its Wine processes when the process exits. Resolves to `{ unavailable }`
 * with the reason when Wine or node.exe is missing; a missing addon shows as
 * `addon: null` with `addonProblem`.
 */
export function wineHost(): Promise<WineHost | { unavailable: string }> {
  hostPromise ??= (async () => {
    const setupUrl = pathToFileURL(join(repoRoot, 'scripts', 'wine', 'setup.mjs')).href;
    const { setupWine, createRunPrefix } = (await import(setupUrl)) as {
      setupWine(o: { log: (l: string) => void; requireAddon: boolean }): Promise<PreparedWine | { unavailable: string }>;
      createRunPrefix(setup: { wineserver: string; prefix: string }): { prefix: string; env: Record<string, string>; dispose(): void };
    };
    const given = process.env[WINE_HOST_ENV];
    const r = given
      ? (JSON.parse(given) as PreparedWine)
      : await setupWine({ log: (l) => process.stderr.write(`[wine setup] ${l}\n`), requireAddon: false });
    if ('unavailable' in r) return r;
    // A private prefix for this test process, ended (with all its Wine processes) when the process ends.
    const run = createRunPrefix(r);
    process.once('exit', () => run.dispose());
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        for (const p of live) killGroup(p.pid, 'SIGKILL');
        run.dispose();
        process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
      });
    }
    const { wine, nodeExe, wineVersion, addon, addonProblem } = r;
    return { wine, nodeExe, prefix: run.prefix, env: run.env, wineVersion, addon, addonProblem: addonProblem ?? null };
  })();
  return hostPromise;
}

/** The same Linux path as a Windows program under Wine sees it (drive Z: maps `/`). */
export function toWinePath(linuxPath: string): string {
  return `Z:${resolve(linuxPath).replaceAll('/', '\\')}`;
}

/**
 * A TCP port that was free a moment ago on this machine. Wine's http.sys listens
 * on all addresses, so the port is probed on 0.0.0.0.
 */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '0.0.0.0', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolvePort(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** How a Wine process ended. */
export interface WineExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface StartOptions {
  /** Script for node.exe: a Linux path, absolute or relative to the repository root (e.g. 'dist/test/wine/fixtures/native-server.js'). */
  readonly script: string;
  /** Arguments after the script, passed unchanged (convert Linux paths with toWinePath). */
  readonly args?: readonly string[];
  /** Options for node.exe itself, before the script (e.g. '--expose-gc'). */
  readonly nodeOptions?: readonly string[];
  /** Extra environment variables; Wine passes them through to the Windows process. */
  readonly env?: Readonly<Record<string, string>>;
  /** A short label for messages and the output file name. */
  readonly name?: string;
}

const REPORT_PREFIX = '@@report ';
const live = new Set<WineProcess>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** A node.exe process under Wine whose output goes to a file. */
export class WineProcess {
  /** File holding the process's stdout and stderr. */
  readonly outputFile: string;
  /** Linux pid of the Wine process (also its process group id). */
  readonly pid: number;
  readonly name: string;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<WineExit>;
  private exitInfo: WineExit | undefined;
  private readonly consumed = new Map<string, number>();
  private readonly dir: string;
  private readonly child: ChildProcess;

  /** @internal use startWineNode */
  constructor(child: ChildProcess, outputFile: string, dir: string, name: string) {
    if (child.pid === undefined) throw new Error(`could not start ${name} under Wine`);
    // A process nobody waits for does not keep the test process alive: a test that forgets stop()
    // still ends, and the exit hook and the private prefix's disposal end the Wine process.
    child.unref();
    this.child = child;
    this.pid = child.pid;
    this.outputFile = outputFile;
    this.dir = dir;
    this.name = name;
    this.exited = new Promise<WineExit>((resolveExit) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        resolveExit(this.exitInfo);
      });
      child.once('error', () => {
        this.exitInfo ??= { code: null, signal: null };
        live.delete(this);
        resolveExit(this.exitInfo);
      });
    });
  }

  /** True once the process has exited. */
  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /** Everything the process has written so far. */
  output(): string {
    try {
      return readFileSync(this.outputFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** The last lines of the output, for failure messages. */
  tail(lines = 40): string {
    return this.output().split('\n').slice(-lines).join('\n');
  }

  /**
   * Waits until the output matches `pattern` (searched from `from`, a character
   * offset), and returns the match. Rejects, with the output tail, when the process
   * exits first or `timeoutMs` passes.
   */
  async waitFor(pattern: RegExp, { timeoutMs = 60_000, from = 0 }: { timeoutMs?: number; from?: number } = {}): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    const re = new RegExp(pattern.source, pattern.flags.replace('g', ''));
    for (;;) {
      const exitedBefore = this.hasExited;
      const m = re.exec(this.output().slice(from));
      if (m) return m;
      if (exitedBefore) {
        throw new Error(`${this.name} exited (${JSON.stringify(this.exitInfo)}) before printing ${pattern}; output:\n${this.tail()}`);
      }
      if (Date.now() > deadline) throw new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms; output:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Every `@@report` line printed so far, parsed, in order. */
  reports<T = Record<string, unknown>>(): (T & { type: string })[] {
    const out: (T & { type: string })[] = [];
    for (const line of this.output().split(/\r?\n/)) {
      if (!line.startsWith(REPORT_PREFIX)) continue;
      try {
        out.push(JSON.parse(line.slice(REPORT_PREFIX.length)) as T & { type: string });
      } catch {
        // a line still being written
      }
    }
    return out;
  }

  /**
   * The next report of the given type not yet returned by this method (reports of
   * one type are handed out once each, in order). Waits for it like waitFor.
   */
  async nextReport<T = Record<string, unknown>>(type: string, { timeoutMs = 60_000 } = {}): Promise<T & { type: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const exitedBefore = this.hasExited;
      const seen = this.consumed.get(type) ?? 0;
      const matching = this.reports<T>().filter((r) => r.type === type);
      if (matching.length > seen) {
        this.consumed.set(type, seen + 1);
        return matching[seen]!;
      }
      const failure = this.reports<{ message?: string; stack?: string }>().find((r) => r.type === 'fatal');
      if (failure) throw new Error(`${this.name} reported a fatal error: ${failure.stack ?? failure.message}`);
      if (exitedBefore) {
        throw new Error(`${this.name} exited (${JSON.stringify(this.exitInfo)}) before reporting '${type}'; output:\n${this.tail()}`);
      }
      if (Date.now() > deadline) throw new Error(`${this.name} did not report '${type}' within ${timeoutMs} ms; output:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /**
   * Resolves or rejects with `work`, unless the process exits first: then rejects
   * with its exit status and output tail (so a client waiting on a crashed server
   * fails at once, with the reason, instead of timing out).
   */
  async whileRunning<T>(work: Promise<T>): Promise<T> {
    this.child.ref();
    const exited = this.exited.then((info) => {
      throw new Error(`${this.name} exited (${JSON.stringify(info)}) while a test was waiting on it; output:\n${this.tail()}`);
    });
    exited.catch(() => {});
    try {
      return await Promise.race([work, exited]);
    } finally {
      this.child.unref();
    }
  }

  /**
   * Waits for the process to exit on its own. Rejects (after killing it) when it
   * is still running after `timeoutMs`.
   */
  async waitForExit({ timeoutMs = 60_000 } = {}): Promise<WineExit> {
    this.child.ref();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), timeoutMs);
    });
    const r = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (r === 'timeout') {
      const tail = this.tail();
      await this.stop();
      throw new Error(`${this.name} did not exit by itself within ${timeoutMs} ms; output:\n${tail}`);
    }
    return r;
  }

  /**
   * Ends the process and everything in its process group: SIGTERM, then SIGKILL
   * when it has not exited after a short grace period. Removes the output file
   * unless `keepOutput` is set. Safe to call more than once.
   */
  async stop({ keepOutput = false }: { keepOutput?: boolean } = {}): Promise<WineExit> {
    if (!this.hasExited) {
      this.child.ref();
      killGroup(this.pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'grace'>((r) => {
        timer = setTimeout(() => r('grace'), 3000);
      });
      if ((await Promise.race([this.exited, grace])) === 'grace') killGroup(this.pid, 'SIGKILL');
      clearTimeout(timer);
      await this.exited;
      // Children a script may have started under Wine share the group: make sure none is left.
      killGroup(this.pid, 'SIGKILL');
    }
    const info = await this.exited;
    if (!keepOutput) rmSync(this.dir, { recursive: true, force: true });
    return info;
  }
}

/**
 * Starts node.exe under Wine with `options.script`. The process starts at once;
 * wait for it with `waitFor` or `nextReport`. Always `stop()` it (also on failure
 * paths, e.g. in `after()`); a hook kills leftovers when the test process exits.
 */
export function startWineNode(host: WineHost, options: StartOptions): WineProcess {
  const script = isAbsolute(options.script) ? options.script : join(repoRoot, options.script);
  if (!existsSync(script)) throw new Error(`${script} does not exist (run npm run build first)`);
  const name = options.name ?? script.split('/').pop()!.replace(/\.js$/, '');
  const dir = mkdtempSync(join(tmpdir(), 'httpsys-wine-'));
  const outputFile = join(dir, `${name.replace(/[^\w.-]+/g, '_')}.log`);
  const fd = openSync(outputFile, 'w');
  let child: ChildProcess;
  try {
    child = spawn(host.wine, [host.nodeExe, ...(options.nodeOptions ?? []), toWinePath(script), ...(options.args ?? [])], {
      cwd: repoRoot,
      env: { ...process.env, ...host.env, ...options.env },
      stdio: ['ignore', fd, fd],
      detached: true,
    });
  } finally {
    closeSync(fd);
  }
  const proc = new WineProcess(child, outputFile, dir, name);
  live.add(proc);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const p of live) killGroup(p.pid, 'SIGKILL');
    });
  }
  return proc;
}
