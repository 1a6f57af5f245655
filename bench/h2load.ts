/** Drives the unary benchmark with h2load (nghttp2-client) and reads its per-request log. */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

export interface H2loadOptions {
  readonly port: number;
  readonly path: string;
  /** A file holding the framed gRPC request body. */
  readonly bodyFile: string;
  readonly seconds: number;
  readonly connections: number;
  readonly streamsPerConnection: number;
  /** Per-request log to compute percentiles from; omit for warm-up runs. */
  readonly logFile?: string;
}

export interface H2loadResult {
  readonly requestsPerSecond: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  /** Responses by HTTP status class, e.g. { '2xx': 1000 }. */
  readonly statusClasses: Readonly<Record<string, number>>;
  /** Latency percentiles in milliseconds (from the log file), NaN without one. */
  readonly p50: number;
  readonly p99: number;
}

/** Makes sure h2load is on PATH, installing Debian's nghttp2-client when it is not. */
export function ensureH2load(): void {
  if (spawnSync('h2load', ['--version']).status === 0) return;
  console.error('h2load not found; installing nghttp2-client with apt-get');
  const install = (): boolean =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'nghttp2-client'], { stdio: 'inherit' }).status === 0;
  if (!install()) {
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    install();
  }
  if (spawnSync('h2load', ['--version']).status !== 0) throw new Error('h2load is still not available');
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

/** Reads h2load's log: start time (µs), HTTP status, microseconds to the end of the response. */
function latencyPercentiles(logFile: string): { p50: number; p99: number } {
  const text = readFileSync(logFile, 'latin1');
  const values: number[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const lastTab = text.lastIndexOf('\t', end);
    if (lastTab > start) {
      const us = Number(text.slice(lastTab + 1, end));
      if (Number.isFinite(us)) values.push(us);
    }
    start = end + 1;
  }
  const sorted = Float64Array.from(values).sort();
  return { p50: percentile(sorted, 50) / 1000, p99: percentile(sorted, 99) / 1000 };
}

function parse(output: string): Omit<H2loadResult, 'p50' | 'p99'> {
  const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(output);
  const reqs = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(output);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output);
  if (!rps || !reqs || !codes) throw new Error(`cannot read h2load output:\n${output}`);
  return {
    requestsPerSecond: Number(rps[1]),
    succeeded: Number(reqs[4]),
    failed: Number(reqs[5]),
    errored: Number(reqs[6]),
    statusClasses: { '2xx': Number(codes[1]), '3xx': Number(codes[2]), '4xx': Number(codes[3]), '5xx': Number(codes[4]) },
  };
}

export function runH2load(options: H2loadOptions): Promise<H2loadResult> {
  const args = [
    '-D',
    `${Math.max(1, Math.round(options.seconds * 1000))}ms`,
    '-c',
    String(options.connections),
    '-m',
    String(options.streamsPerConnection),
    '-t',
    '1',
    '-d',
    options.bodyFile,
    '-H',
    'content-type: application/grpc',
    '-H',
    'te: trailers',
  ];
  if (options.logFile) args.push(`--log-file=${options.logFile}`);
  args.push(`http://127.0.0.1:${options.port}${options.path}`);
  const limitMs = (options.seconds + 30) * 1000;
  return new Promise((resolve, reject) => {
    execFile('h2load', args, { timeout: limitMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`h2load failed: ${err.message}\n${stdout}${stderr}`));
        return;
      }
      try {
        const summary = parse(stdout);
        const latency = options.logFile ? latencyPercentiles(options.logFile) : { p50: NaN, p99: NaN };
        if (options.logFile) rmSync(options.logFile, { force: true });
        resolve({ ...summary, ...latency });
      } catch (e) {
        reject(e);
      }
    });
  });
}
