/**
 * npm run bench [-- options]
 *
 * Runs the Bench service on four servers, each in its own process on a
 * loopback port, one after the other on this machine, and prints absolute
 * numbers and ratios against the peers measured in the same run:
 *   ours     this package's GrpcServer on the portable backend
 *   grpc-js  an @grpc/grpc-js server
 *   connect  @connectrpc/connect-node on node:http2
 *   bare     a node:http2 responder sending fixed bytes (the ceiling)
 */
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnServer, type ServerProcess } from './child.js';
import { checkServer } from './clients/check.js';
import { holdStreams, pingPongRate, serverStreamRate } from './clients/raw.js';
import { ensureH2load, runH2load } from './h2load.js';
import { describeMachine } from './machine.js';
import { heapGrowth } from './heap.js';
import { summariseByArea, summariseProfile } from './profile.js';
import { formatReport, type RoundSample, type ServerResult } from './report.js';
import { PATHS, SMALL_BODY_BYTES, bodyOf, encodePayload, frame } from './schema.js';
import { EXTRA_SERVER_KINDS, SERVER_KINDS, type ServerKind } from './servers/types.js';

const PHASES = ['memory', 'unary', 'stream', 'pingpong'] as const;
type Phase = (typeof PHASES)[number];

const HELP = `usage: npm run bench -- [options]
  --quick                 short smoke run (about 40 s; full run about 3.5 min)
  --rounds <n>            rounds over all servers; each number is the median of the rounds (default 3)
  --duration <s>          measured seconds of unary load per round (default 6)
  --stream-duration <s>   measured seconds of streaming and ping-pong per round (default 3)
  --warmup <s>            warm-up seconds before each measurement (default 1.5)
  --connections <n>       h2load connections (default 10)
  --streams <n>           h2load concurrent streams per connection (default 10)
  --stream-calls <n>      concurrent ServerStream calls (default 1)
  --stream-size <bytes>   payload bytes per streamed message (default ${SMALL_BODY_BYTES})
  --hold <n>              concurrent open streams for the memory measurement (default 1000)
  --servers <list>        comma-separated subset of ${SERVER_KINDS.join(',')} (default all of them),
                          or the diagnostic ${EXTRA_SERVER_KINDS.join(',')} (the queue with a plain handler, unary only)
  --phases <list>         comma-separated subset of ${PHASES.join(',')} (default all)
  --profile <list>        write CPU profiles of these servers' first load round and summarise them
  --heap <list>           heap snapshots of these servers, idle and with the streams open; prints what grew
                          (taking snapshots raises those servers' RSS figures)
  --json <file>           also write the results as JSON
`;

interface Settings {
  quick: boolean;
  rounds: number;
  duration: number;
  streamDuration: number;
  warmup: number;
  connections: number;
  streams: number;
  streamCalls: number;
  streamSize: number;
  hold: number;
  servers: ServerKind[];
  phases: Set<Phase>;
  profile: Set<ServerKind>;
  heap: Set<ServerKind>;
  json: string | undefined;
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number, got "${value}"`);
  return n;
}

function settingsFrom(argv: string[]): Settings | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      'stream-duration': { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      streams: { type: 'string' },
      'stream-calls': { type: 'string' },
      'stream-size': { type: 'string' },
      hold: { type: 'string' },
      servers: { type: 'string' },
      phases: { type: 'string' },
      profile: { type: 'string' },
      heap: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const quick = values.quick ?? false;
  const servers = (values.servers ?? SERVER_KINDS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as ServerKind[];
  const known = [...SERVER_KINDS, ...EXTRA_SERVER_KINDS];
  for (const s of servers) if (!known.includes(s)) throw new Error(`unknown server "${s}"`);
  const phases = new Set(
    (values.phases ?? PHASES.join(','))
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean) as Phase[],
  );
  for (const p of phases) if (!PHASES.includes(p)) throw new Error(`unknown phase "${p}"`);
  const profile = new Set(
    (values.profile ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean) as ServerKind[],
  );
  for (const p of profile) if (!known.includes(p)) throw new Error(`unknown server "${p}"`);
  const heap = new Set(
    (values.heap ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean) as ServerKind[],
  );
  for (const p of heap) if (!known.includes(p)) throw new Error(`unknown server "${p}"`);
  return {
    quick,
    rounds: Math.round(positive('rounds', values.rounds, quick ? 1 : 3)),
    duration: positive('duration', values.duration, quick ? 2 : 6),
    streamDuration: positive('stream-duration', values['stream-duration'], quick ? 1 : 3),
    warmup: positive('warmup', values.warmup, quick ? 0.5 : 1.5),
    connections: Math.round(positive('connections', values.connections, quick ? 4 : 10)),
    streams: Math.round(positive('streams', values.streams, 10)),
    streamCalls: Math.round(positive('stream-calls', values['stream-calls'], 1)),
    streamSize: Math.round(positive('stream-size', values['stream-size'], SMALL_BODY_BYTES)),
    hold: Math.round(positive('hold', values.hold, quick ? 200 : 1000)),
    servers,
    phases,
    profile,
    heap,
    json: values.json,
  };
}

/** Diagnostic servers that serve only the unary method. */
const UNARY_ONLY: ReadonlySet<ServerKind> = new Set(EXTRA_SERVER_KINDS);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function check(server: ServerProcess, when: string, problems: string[]): Promise<void> {
  const result = await checkServer(server.port, { unaryOnly: UNARY_ONLY.has(server.kind) });
  if (!result.ok) problems.push(...result.problems.map((p) => `${when}: ${p}`));
  log(`  ${server.kind}: ${result.calls} checked calls ${when}: ${result.ok ? 'grpc-status OK' : result.problems.join('; ')}`);
}

async function measureMemory(kind: ServerKind, s: Settings, result: ServerResult, dir: string): Promise<void> {
  const snapshots = s.heap.has(kind);
  const server = await spawnServer(kind);
  try {
    await check(server, 'before holding streams', result.problems);
    const idleHeap = await server.gc();
    await sleep(200);
    result.rssIdleKiB = server.rssKiB();
    result.heapIdleKiB = idleHeap.heapUsed / 1024;
    const idleSnapshot = snapshots ? await server.heapSnapshot(join(dir, `heap-${kind}-idle.heapsnapshot`)) : undefined;
    const held = await holdStreams(server.port, { count: s.hold, perConnection: 100, timeoutMs: 30000 });
    await sleep(500);
    const heldHeap = await server.gc();
    await sleep(200);
    result.rssHeldKiB = server.rssKiB();
    result.heapHeldKiB = heldHeap.heapUsed / 1024;
    if (idleSnapshot) {
      const heldSnapshot = await server.heapSnapshot(join(dir, `heap-${kind}-streams.heapsnapshot`));
      result.heapGrowth = { streams: s.hold, kinds: heapGrowth(idleSnapshot, heldSnapshot) };
    }
    const released = await held.release();
    if (released.failed > 0) result.problems.push(`${released.failed} of ${held.count} held streams did not end with grpc-status 0`);
    log(
      `  ${kind}: RSS idle ${(result.rssIdleKiB / 1024).toFixed(1)} MiB (JS heap ${(result.heapIdleKiB / 1024).toFixed(1)} MiB), ` +
        `with ${held.count} open streams ${(result.rssHeldKiB / 1024).toFixed(1)} MiB (JS heap ${(result.heapHeldKiB / 1024).toFixed(1)} MiB)`,
    );
  } finally {
    await server.stop();
  }
}

async function measureThroughput(
  kind: ServerKind,
  s: Settings,
  dir: string,
  bodyFile: string,
  result: ServerResult,
  profileDir: string | undefined,
): Promise<RoundSample> {
  const sample: RoundSample = {
    unaryRps: NaN,
    p50Ms: NaN,
    p99Ms: NaN,
    streamMps: NaN,
    pingPongRtps: NaN,
    unaryCpuUs: NaN,
    streamCpuUs: NaN,
    pingPongCpuUs: NaN,
  };
  const server = await spawnServer(kind, profileDir ? { cpuProfileDir: profileDir } : {});
  try {
    await check(server, 'before load', result.problems);
    if (s.phases.has('unary')) {
      const common = {
        port: server.port,
        path: PATHS.unary,
        bodyFile,
        connections: s.connections,
        streamsPerConnection: s.streams,
      };
      await runH2load({ ...common, seconds: s.warmup });
      const cpuBefore = server.cpuSeconds();
      const unary = await runH2load({ ...common, seconds: s.duration, logFile: join(dir, `h2load-${kind}.log`) });
      sample.unaryCpuUs = ((server.cpuSeconds() - cpuBefore) * 1e6) / Math.max(1, unary.succeeded);
      sample.unaryRps = unary.requestsPerSecond;
      sample.p50Ms = unary.p50;
      sample.p99Ms = unary.p99;
      const non2xx = unary.statusClasses['3xx']! + unary.statusClasses['4xx']! + unary.statusClasses['5xx']!;
      if (unary.failed > 0 || unary.errored > 0 || non2xx > 0) {
        result.problems.push(`h2load: ${unary.failed} failed, ${unary.errored} errored, ${non2xx} non-2xx responses`);
      }
      log(
        `  ${kind}: unary ${unary.requestsPerSecond.toFixed(0)} req/s, p50 ${unary.p50.toFixed(2)} ms, p99 ${unary.p99.toFixed(2)} ms ` +
          `(${unary.succeeded} succeeded), server CPU ${sample.unaryCpuUs.toFixed(1)} µs/request`,
      );
      await check(server, 'after unary load', result.problems);
    }
    if (s.phases.has('stream') && !UNARY_ONLY.has(kind)) {
      const stream = await serverStreamRate(server.port, {
        warmupSeconds: s.warmup,
        seconds: s.streamDuration,
        streams: s.streamCalls,
        size: s.streamSize,
        cpu: server.cpuSeconds,
      });
      sample.streamMps = stream.perSecond;
      sample.streamCpuUs = ((stream.serverCpuSeconds ?? NaN) * 1e6) / stream.total;
      log(`  ${kind}: server streaming ${stream.perSecond.toFixed(0)} messages/s, server CPU ${sample.streamCpuUs.toFixed(2)} µs/message`);
    }
    if (s.phases.has('pingpong') && !UNARY_ONLY.has(kind)) {
      const pingPong = await pingPongRate(server.port, { warmupSeconds: s.warmup, seconds: s.streamDuration, cpu: server.cpuSeconds });
      sample.pingPongRtps = pingPong.perSecond;
      sample.pingPongCpuUs = ((pingPong.serverCpuSeconds ?? NaN) * 1e6) / pingPong.total;
      log(`  ${kind}: ping-pong ${pingPong.perSecond.toFixed(0)} round trips/s, server CPU ${sample.pingPongCpuUs.toFixed(1)} µs/round trip`);
    }
    await check(server, 'after all load', result.problems);
    return sample;
  } finally {
    await server.stop();
  }
}

function median(all: number[]): number | undefined {
  const values = all.filter((v) => Number.isFinite(v));
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function attachProfile(result: ServerResult, profileDir: string): void {
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return;
  const path = join(profileDir, file);
  result.profile = { file: path, ...summariseProfile(path), areas: summariseByArea(path) };
}

async function main(): Promise<void> {
  const s = settingsFrom(process.argv.slice(2));
  if (!s) {
    process.stdout.write(HELP);
    return;
  }
  ensureH2load();
  const dir = mkdtempSync(join(tmpdir(), 'httpsys-grpc-bench-'));
  const bodyFile = join(dir, 'unary-request.bin');
  writeFileSync(bodyFile, frame(encodePayload({ body: bodyOf(SMALL_BODY_BYTES) })));
  const machine = describeMachine();
  log(`bench: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.os}`);
  const started = Date.now();
  const loadBefore = loadavg()[0]!;
  const results: ServerResult[] = s.servers.map((kind) => ({ kind, problems: [], rounds: [] }));
  for (const result of results) {
    log(`${result.kind}: memory`);
    try {
      if (s.phases.has('memory') && !UNARY_ONLY.has(result.kind)) await measureMemory(result.kind, s, result, dir);
    } catch (err) {
      result.problems.push(`memory: ${err instanceof Error ? err.message : String(err)}`);
      log(`  ${result.kind}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  for (let round = 0; round < s.rounds; round++) {
    // Rotate the order each round so no server always runs first or last.
    const order = results.map((_, i) => results[(i + round) % results.length]!);
    for (const result of order) {
      if (result.error) continue;
      log(`${result.kind}: throughput, round ${round + 1} of ${s.rounds}`);
      const profileDir = s.profile.has(result.kind) && round === 0 ? join(dir, `profile-${result.kind}`) : undefined;
      try {
        result.rounds.push(await measureThroughput(result.kind, s, dir, bodyFile, result, profileDir));
      } catch (err) {
        result.error = err instanceof Error ? err.message : String(err);
        log(`  ${result.kind}: ${result.error}`);
      }
      if (profileDir) attachProfile(result, profileDir);
    }
  }
  for (const r of results) {
    r.unaryRps = median(r.rounds.map((x) => x.unaryRps));
    r.p50Ms = median(r.rounds.map((x) => x.p50Ms));
    r.p99Ms = median(r.rounds.map((x) => x.p99Ms));
    r.streamMps = median(r.rounds.map((x) => x.streamMps));
    r.pingPongRtps = median(r.rounds.map((x) => x.pingPongRtps));
    r.unaryCpuUs = median(r.rounds.map((x) => x.unaryCpuUs));
    r.streamCpuUs = median(r.rounds.map((x) => x.streamCpuUs));
    r.pingPongCpuUs = median(r.rounds.map((x) => x.pingPongCpuUs));
  }
  const report = formatReport(results, machine, s, (Date.now() - started) / 1000, { before: loadBefore, after: loadavg()[0]! });
  process.stdout.write(report);
  // The run is only trustworthy when every server answered correctly throughout.
  if (results.some((r) => r.error !== undefined || r.problems.length > 0)) process.exitCode = 1;
  if (s.json) writeFileSync(s.json, JSON.stringify({ machine, settings: { ...s, phases: [...s.phases], profile: [...s.profile], heap: [...s.heap] }, results }, null, 2));
  if (s.profile.size === 0 && s.heap.size === 0) rmSync(dir, { recursive: true, force: true });
  else log(`profiles kept in ${dir}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
