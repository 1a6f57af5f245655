/**
 * A ConformanceTarget that runs serve.js in a separate process. The launcher
 * is pluggable: `linuxNodeLauncher` runs it with this Linux node; the Wine tier
 * can pass a launcher that starts Windows node.exe under Wine (anything with
 * `nextReport`, `stop` and `exited`, e.g. the Wine harness's WineProcess).
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClosedReport, ConformanceTarget, ReadyReport, RunningServer, StartOptions } from './case-context.js';
import { endpointOf } from './case-context.js';
import { h1 } from './clients.js';

/** A started serve.js process, as the target needs it. */
export interface ServeProcess {
  /** The next `@@report` line of this type (each handed out once, in order). */
  nextReport<T = Record<string, unknown>>(type: string, options?: { timeoutMs?: number }): Promise<T & { type: string }>;
  /** End the process (and anything it started) if still running. */
  stop(): Promise<unknown>;
  readonly exited: Promise<unknown>;
}

export type ServeLauncher = (args: readonly string[]) => ServeProcess | Promise<ServeProcess>;

/** Compiled serve.js next to this module. */
export const serveScript = join(dirname(fileURLToPath(import.meta.url)), 'serve.js');

/** Build the serve.js arguments for one start. */
export function serveArgs(backend: 'node' | 'httpsys', urls: readonly string[], options: StartOptions = {}, extraArgs: readonly string[] = []): string[] {
  const args = ['--backend', backend, '--control', '--ignore-stdin', ...extraArgs];
  for (const u of urls) args.push('--url', u);
  if (options.maxRequestBodyBytes !== undefined) args.push('--max-body-bytes', String(options.maxRequestBodyBytes));
  if (options.maxHeaderBytes !== undefined) args.push('--max-header-bytes', String(options.maxHeaderBytes));
  if (options.idleTimeoutSeconds !== undefined) args.push('--idle-timeout', String(options.idleTimeoutSeconds));
  return args;
}

/** `extraArgs` go to every serve.js start (e.g. ['--tls-key', key, '--tls-cert', cert]). */
export function serveTarget(name: string, backend: 'node' | 'httpsys', launch: ServeLauncher, extraArgs: readonly string[] = []): ConformanceTarget {
  return {
    name,
    async start(urls, options): Promise<RunningServer> {
      const proc = await launch(serveArgs(backend, urls, options, extraArgs));
      let ready: ReadyReport;
      try {
        ready = await proc.nextReport<ReadyReport>('ready', { timeoutMs: 60_000 });
      } catch (err) {
        await proc.stop();
        throw err;
      }
      let closed: Promise<ClosedReport> | undefined;
      return {
        ready,
        close({ graceful = 0 } = {}) {
          closed ??= (async () => {
            const e = endpointOf(ready.urls[0]!);
            // The control answer may be cut short by the close itself; the report is what counts.
            await h1({
              port: e.port,
              host: e.connectHost,
              path: `${e.path}__control/close?graceful=${graceful}`,
              headers: { Host: e.hostHeader },
            }).catch(() => undefined);
            const report = await proc.nextReport<ClosedReport>('closed', { timeoutMs: graceful + 60_000 });
            await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 10_000))]);
            await proc.stop();
            return report;
          })();
          return closed;
        },
        async kill() {
          await proc.stop();
        },
      };
    },
  };
}

/** Run serve.js with this process's node; its stdout is read for `@@report` lines. */
export const linuxNodeLauncher: ServeLauncher = (args) => {
  // stdin stays a pipe so the server closes by itself if this process dies.
  const child = spawn(process.execPath, [serveScript, ...args.filter((a) => a !== '--ignore-stdin')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const consumed = new Map<string, number>();
  const wake = new Set<() => void>();
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    out += d;
    for (const w of [...wake]) w();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    err = (err + d).slice(-20_000);
  });
  let exitedFlag = false;
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedFlag = true;
      for (const w of [...wake]) w();
      resolve({ code, signal });
    });
  });
  const reports = (type: string): Record<string, unknown>[] =>
    out
      .split('\n')
      .filter((l) => l.startsWith('@@report '))
      .map((l) => {
        try {
          return JSON.parse(l.slice(9)) as Record<string, unknown>;
        } catch {
          return {};
        }
      })
      .filter((r) => r['type'] === type);
  return {
    exited,
    async nextReport<T>(type: string, { timeoutMs = 60_000 } = {}): Promise<T & { type: string }> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const seen = consumed.get(type) ?? 0;
        const list = reports(type);
        if (list.length > seen) {
          consumed.set(type, seen + 1);
          return list[seen] as T & { type: string };
        }
        const fatal = reports('fatal')[0];
        if (fatal) throw new Error(`serve.js failed: ${String(fatal['message'])}\n${err}`);
        if (exitedFlag) throw new Error(`serve.js exited before reporting '${type}'\n${err}`);
        if (Date.now() > deadline) throw new Error(`serve.js did not report '${type}' within ${timeoutMs} ms\n${err}`);
        await new Promise<void>((resolve) => {
          const w = (): void => {
            wake.delete(w);
            clearTimeout(t);
            resolve();
          };
          const t = setTimeout(w, 250);
          wake.add(w);
        });
      }
    },
    async stop() {
      if (!exitedFlag) {
        child.stdin!.end();
        child.kill('SIGKILL');
      }
      await exited;
    },
  };
};
