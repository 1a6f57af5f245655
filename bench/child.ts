/** Parent side of a benchmarked server: spawns server-main.js in its own process and reads its RSS. */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ServerKind } from './servers/types.js';

export interface ServerProcess {
  readonly kind: ServerKind;
  readonly pid: number;
  readonly port: number;
  /** Resident set size of the server process in KiB, from /proc/<pid>/status (VmRSS). */
  rssKiB(): number;
  /** CPU time (user + system, all threads) the server process has used so far, in seconds. */
  cpuSeconds(): number;
  /** Asks the server process to run a full garbage collection; resolves with its heap use afterwards (bytes). */
  gc(): Promise<{ heapUsed: number; external: number }>;
  /** Writes a V8 heap snapshot of the server process to `file`. */
  heapSnapshot(file: string): Promise<string>;
  /** Closes the server and waits for the process to exit (it writes its CPU profile, if any, on exit). */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** Directory to write a V8 CPU profile of the server process into. */
  readonly cpuProfileDir?: string;
  /** Milliseconds to wait for the server to report its port. */
  readonly startTimeoutMs?: number;
}

const entry = fileURLToPath(new URL('./server-main.js', import.meta.url));

export function readRssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]);
}

let clockTicks: number | undefined;

/** CPU seconds (utime + stime) of a process, from /proc/<pid>/stat. */
export function readCpuSeconds(pid: number): number {
  clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

type ChildMessage =
  | { type: 'ready'; port: number }
  | { type: 'failed'; message: string }
  | { type: 'gc-done'; heapUsed: number; external: number }
  | { type: 'snapshot-done'; file: string };

export function spawnServer(kind: ServerKind, options: SpawnOptions = {}): Promise<ServerProcess> {
  const execArgv = ['--expose-gc'];
  if (options.cpuProfileDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
  const child: ChildProcess = fork(entry, [kind], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise<ServerProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${kind}: server did not start within ${options.startTimeoutMs ?? 15000} ms`));
    }, options.startTimeoutMs ?? 15000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${kind}: server process exited early (${signal ?? code})`));
    });
    const onMessage = (message: ChildMessage): void => {
      if (message.type === 'failed') {
        clearTimeout(timer);
        reject(new Error(`${kind}: ${message.message}`));
      } else if (message.type === 'ready') {
        clearTimeout(timer);
        child.off('message', onMessage);
        const pid = child.pid!;
        resolve({
          kind,
          pid,
          port: message.port,
          rssKiB: () => readRssKiB(pid),
          cpuSeconds: () => readCpuSeconds(pid),
          gc: () =>
            new Promise<{ heapUsed: number; external: number }>((done) => {
              const onGc = (m: ChildMessage): void => {
                if (m.type === 'gc-done') {
                  child.off('message', onGc);
                  done({ heapUsed: m.heapUsed, external: m.external });
                }
              };
              child.on('message', onGc);
              child.send('gc');
            }),
          heapSnapshot: (file: string) =>
            new Promise<string>((done) => {
              const onSnap = (m: ChildMessage): void => {
                if (m.type === 'snapshot-done') {
                  child.off('message', onSnap);
                  done(m.file);
                }
              };
              child.on('message', onSnap);
              child.send({ type: 'snapshot', file });
            }),
          async stop() {
            if (child.exitCode !== null || child.signalCode !== null) return;
            child.send('stop');
            const killer = setTimeout(() => child.kill('SIGKILL'), 10000);
            await exited;
            clearTimeout(killer);
          },
        });
      }
    };
    child.on('message', onMessage);
  });
}
