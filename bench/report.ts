/** Formats the benchmark results: absolute numbers, ratios against the peers, and the targets. */
import type { Machine } from './machine.js';
import type { HeapKind } from './heap.js';
import type { FrameSummary } from './profile.js';
import type { ServerKind } from './servers/types.js';

/** Throughput and CPU numbers of one server in one round. */
export interface RoundSample {
  unaryRps: number;
  p50Ms: number;
  p99Ms: number;
  streamMps: number;
  pingPongRtps: number;
  unaryCpuUs: number;
  streamCpuUs: number;
  pingPongCpuUs: number;
}

export interface ServerResult {
  kind: ServerKind;
  unaryRps?: number;
  p50Ms?: number;
  p99Ms?: number;
  streamMps?: number;
  pingPongRtps?: number;
  rssIdleKiB?: number;
  rssHeldKiB?: number;
  /** V8 heap in use after a full GC, idle and with the streams open. */
  heapIdleKiB?: number;
  heapHeldKiB?: number;
  heapGrowth?: { streams: number; kinds: HeapKind[] };
  /** Server CPU time per unary request, per streamed message and per ping-pong round trip, in microseconds. */
  unaryCpuUs?: number;
  streamCpuUs?: number;
  pingPongCpuUs?: number;
  problems: string[];
  /** Per-round throughput numbers; the fields above hold their medians. */
  rounds: RoundSample[];
  error?: string;
  profile?: { file: string; totalMs: number; frames: FrameSummary[]; areas: { area: string; percent: number }[] };
}

export interface ReportSettings {
  readonly rounds: number;
  readonly duration: number;
  readonly streamDuration: number;
  readonly warmup: number;
  readonly connections: number;
  readonly streams: number;
  readonly streamCalls: number;
  readonly streamSize: number;
  readonly hold: number;
}

function num(value: number | undefined, digits = 0): string {
  return value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits);
}

function mib(kib: number | undefined): string {
  return kib === undefined ? 'n/a' : (kib / 1024).toFixed(1);
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n') + '\n';
}

type Metric =
  | 'unaryRps'
  | 'p50Ms'
  | 'p99Ms'
  | 'streamMps'
  | 'pingPongRtps'
  | 'rssHeldKiB'
  | 'unaryCpuUs'
  | 'streamCpuUs'
  | 'pingPongCpuUs';

function ratio(results: ServerResult[], metric: Metric, peer: ServerKind): number | undefined {
  const ours = results.find((r) => r.kind === 'ours')?.[metric];
  const theirs = results.find((r) => r.kind === peer)?.[metric];
  if (ours === undefined || theirs === undefined || theirs === 0) return undefined;
  return ours / theirs;
}

function times(value: number | undefined): string {
  return value === undefined ? 'n/a' : `${value.toFixed(2)}x`;
}

interface Target {
  readonly label: string;
  readonly metric: Metric;
  readonly peer: ServerKind;
  readonly bound: number;
  readonly atMost?: boolean;
  /** The CPU-per-call metric giving the same ratio from server CPU time (peer CPU / our CPU). */
  readonly cpuMetric?: Metric;
}

export const TARGETS: readonly Target[] = [
  { label: 'unary req/s >= 1.5x grpc-js', metric: 'unaryRps', peer: 'grpc-js', bound: 1.5, cpuMetric: 'unaryCpuUs' },
  { label: 'unary req/s >= 0.7x bare', metric: 'unaryRps', peer: 'bare', bound: 0.7, cpuMetric: 'unaryCpuUs' },
  { label: 'streaming msg/s >= 1.5x grpc-js', metric: 'streamMps', peer: 'grpc-js', bound: 1.5, cpuMetric: 'streamCpuUs' },
  { label: 'RSS at open streams <= grpc-js', metric: 'rssHeldKiB', peer: 'grpc-js', bound: 1.0, atMost: true },
];

export function formatReport(
  results: ServerResult[],
  machine: Machine,
  s: ReportSettings,
  seconds: number,
  load: { before: number; after: number },
): string {
  let out = '\n';
  out += `Machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB RAM, Node ${machine.node}, ${machine.os}, ${machine.h2load}\n`;
  out += `Load average (1 min) before ${load.before.toFixed(2)}, after ${load.after.toFixed(2)}; other work on the machine skews the numbers.\n`;
  out +=
    `Each throughput number is the median of ${s.rounds} round(s); servers run one at a time, each in its own process.\n` +
    `Load: unary ${s.duration} s by h2load (${s.connections} connections x ${s.streams} streams, ${s.warmup} s warm-up); ` +
    `server streaming ${s.streamCalls} call(s) x ${s.streamSize}-byte messages, ping-pong 1 stream, ${s.streamDuration} s each; ` +
    `RSS with ${s.hold} open bidi streams. Total ${seconds.toFixed(0)} s.\n\n`;

  out += table(
    ['server', 'unary req/s', 'p50 ms', 'p99 ms', 'stream msg/s', 'ping-pong rt/s', 'RSS idle MiB', `RSS ${s.hold} streams MiB`, 'heap idle/streams MiB'],
    results.map((r) => [
      r.kind,
      num(r.unaryRps),
      num(r.p50Ms, 2),
      num(r.p99Ms, 2),
      num(r.streamMps),
      num(r.pingPongRtps),
      mib(r.rssIdleKiB),
      mib(r.rssHeldKiB),
      `${mib(r.heapIdleKiB)} / ${mib(r.heapHeldKiB)}`,
    ]),
  );
  out += '\n';
  out += table(
    ['server CPU per call', 'unary µs/request', 'stream µs/message', 'ping-pong µs/round trip'],
    results.map((r) => [r.kind, num(r.unaryCpuUs, 1), num(r.streamCpuUs, 2), num(r.pingPongCpuUs, 1)]),
  );
  out += '\n';
  const metrics: [string, Metric][] = [
    ['unary req/s', 'unaryRps'],
    ['unary p50 (lower is better)', 'p50Ms'],
    ['unary p99 (lower is better)', 'p99Ms'],
    ['stream msg/s', 'streamMps'],
    ['ping-pong rt/s', 'pingPongRtps'],
    [`RSS at ${s.hold} streams (lower is better)`, 'rssHeldKiB'],
    ['server CPU per unary request (lower is better)', 'unaryCpuUs'],
    ['server CPU per streamed message (lower is better)', 'streamCpuUs'],
    ['server CPU per ping-pong (lower is better)', 'pingPongCpuUs'],
  ];
  out += table(
    ['metric', 'ours/grpc-js', 'ours/connect', 'ours/bare'],
    metrics.map(([label, m]) => [label, times(ratio(results, m, 'grpc-js')), times(ratio(results, m, 'connect')), times(ratio(results, m, 'bare'))]),
  );
  out += '\n';
  out += table(
    ['target', 'measured', 'holds', 'same ratio from server CPU per call'],
    TARGETS.map((t) => {
      const r = ratio(results, t.metric, t.peer);
      const holds = r === undefined ? 'not measured' : (t.atMost ? r <= t.bound : r >= t.bound) ? 'yes' : 'NO';
      const cpu = t.cpuMetric === undefined ? undefined : ratio(results, t.cpuMetric, t.peer);
      return [t.label, times(r), holds, t.cpuMetric === undefined ? '-' : times(cpu === undefined ? undefined : 1 / cpu)];
    }),
  );
  const trouble = results.filter((r) => r.error || r.problems.length > 0);
  if (trouble.length > 0) {
    out += '\nProblems:\n';
    for (const r of trouble) {
      if (r.error) out += `  ${r.kind}: ${r.error}\n`;
      for (const p of r.problems) out += `  ${r.kind}: ${p}\n`;
    }
  } else {
    out += '\nEvery server answered every checked call with grpc-status 0 before and after the load; h2load saw only 2xx.\n';
  }
  for (const r of results) {
    if (!r.heapGrowth) continue;
    out += `\nHeap growth of ${r.kind} from idle to ${r.heapGrowth.streams} open streams (self sizes, after GC):\n`;
    for (const k of r.heapGrowth.kinds) {
      const per = (k.bytes / r.heapGrowth.streams).toFixed(0).padStart(6);
      out += `  ${(k.bytes / 1024).toFixed(0).padStart(7)} KiB ${per} B/stream ${String(k.count).padStart(7)} objects  ${k.kind}\n`;
    }
  }
  for (const r of results) {
    if (!r.profile) continue;
    out += `\nCPU profile of ${r.kind} during the load (${r.profile.file}), ${r.profile.totalMs.toFixed(0)} ms sampled:\n`;
    out += 'By area:\n';
    for (const a of r.profile.areas.slice(0, 12)) out += `  ${a.percent.toFixed(1).padStart(5)}%  ${a.area}\n`;
    out += 'Top functions by self time:\n';
    for (const f of r.profile.frames) out += `  ${f.selfPercent.toFixed(1).padStart(5)}%  ${f.name}  ${f.location}\n`;
  }
  return out;
}
