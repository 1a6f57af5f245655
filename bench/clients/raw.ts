/**
 * A lean node:http2 gRPC client used for the streaming measurements, the same
 * for every server: it frames requests by hand and only counts response
 * frames, so the client costs little and never differs between servers.
 */
import http2 from 'node:http2';
import {
  FrameCounter,
  PATHS,
  SMALL_BODY_BYTES,
  bodyOf,
  encodePayload,
  encodeStreamRequest,
  frame,
} from '../schema.js';

const WINDOW = 4 << 20;

export function connect(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`, {
      settings: { initialWindowSize: WINDOW, enablePush: false },
    });
    session.once('error', reject);
    session.once('connect', () => {
      session.off('error', reject);
      session.on('error', () => {});
      session.setLocalWindowSize(WINDOW * 4);
      resolve(session);
    });
  });
}

export function closeSession(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => {
    if (session.closed || session.destroyed) return resolve();
    const timer = setTimeout(() => {
      session.destroy();
      resolve();
    }, 2000);
    session.close(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function open(session: http2.ClientHttp2Session, path: string): http2.ClientHttp2Stream {
  const stream = session.request({
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => {});
  return stream;
}

/** Resolves with the call's grpc-status (from trailers, or from headers in a Trailers-Only response). */
function statusOf(stream: http2.ClientHttp2Stream): Promise<string> {
  return new Promise((resolve) => {
    let status = 'none';
    stream.on('response', (headers) => {
      const s = headers['grpc-status'];
      if (s !== undefined) status = String(s);
    });
    stream.on('trailers', (trailers) => {
      const s = trailers['grpc-status'];
      if (s !== undefined) status = String(s);
    });
    stream.on('close', () => resolve(status));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface RateResult {
  /** Events per second over the measured window (after warm-up). */
  readonly perSecond: number;
  readonly total: number;
  /** Server CPU seconds used during the measured window, when a reader was given. */
  readonly serverCpuSeconds?: number;
}

/** Reads the server process's CPU seconds so far (see child.ts). */
export type CpuReader = () => number;

/**
 * Opens `streams` ServerStream calls asking for far more messages than can
 * arrive, counts messages received during the measured window, then cancels
 * the calls.
 */
export async function serverStreamRate(
  port: number,
  opts: { warmupSeconds: number; seconds: number; streams: number; size: number; cpu?: CpuReader },
): Promise<RateResult> {
  const session = await connect(port);
  try {
    const request = frame(encodeStreamRequest({ count: 0xffffffff, size: opts.size }));
    let received = 0;
    const calls: http2.ClientHttp2Stream[] = [];
    let failure: Error | undefined;
    for (let i = 0; i < opts.streams; i++) {
      const stream = open(session, PATHS.serverStream);
      const counter = new FrameCounter();
      stream.on('data', (chunk: Buffer) => {
        received += counter.push(chunk);
      });
      stream.on('response', (headers) => {
        if (headers[':status'] !== 200 || headers['grpc-status'] !== undefined) {
          failure = new Error(`ServerStream answered ${headers[':status']} grpc-status ${String(headers['grpc-status'])}`);
        }
      });
      stream.end(request);
      calls.push(stream);
    }
    await sleep(opts.warmupSeconds * 1000);
    const startCount = received;
    const startCpu = opts.cpu?.();
    const startTime = performance.now();
    await sleep(opts.seconds * 1000);
    const total = received - startCount;
    const cpu = startCpu === undefined ? undefined : opts.cpu!() - startCpu;
    const elapsed = (performance.now() - startTime) / 1000;
    for (const stream of calls) stream.close(http2.constants.NGHTTP2_CANCEL);
    if (failure) throw failure;
    if (total === 0) throw new Error('ServerStream delivered no messages');
    return { perSecond: total / elapsed, total, ...(cpu === undefined ? {} : { serverCpuSeconds: cpu }) };
  } finally {
    await closeSession(session);
  }
}

/**
 * One PingPong call: send a message, wait for the answer, repeat. Counts round
 * trips during the measured window, then half-closes and expects grpc-status 0.
 */
export async function pingPongRate(
  port: number,
  opts: { warmupSeconds: number; seconds: number; cpu?: CpuReader },
): Promise<RateResult> {
  const session = await connect(port);
  try {
    const ping = frame(encodePayload({ body: bodyOf(SMALL_BODY_BYTES) }));
    const stream = open(session, PATHS.pingPong);
    const status = statusOf(stream);
    const counter = new FrameCounter();
    let trips = 0;
    let stopping = false;
    stream.on('data', (chunk: Buffer) => {
      const n = counter.push(chunk);
      if (n === 0) return;
      trips += n;
      if (!stopping) stream.write(ping);
    });
    stream.write(ping);
    await sleep(opts.warmupSeconds * 1000);
    const startTrips = trips;
    const startCpu = opts.cpu?.();
    const startTime = performance.now();
    await sleep(opts.seconds * 1000);
    const total = trips - startTrips;
    const cpu = startCpu === undefined ? undefined : opts.cpu!() - startCpu;
    const elapsed = (performance.now() - startTime) / 1000;
    stopping = true;
    stream.end();
    const timeout = sleep(5000).then(() => 'timeout');
    const code = await Promise.race([status, timeout]);
    if (code !== '0') throw new Error(`PingPong ended with grpc-status ${code}`);
    if (total === 0) throw new Error('PingPong made no round trips');
    return { perSecond: total / elapsed, total, ...(cpu === undefined ? {} : { serverCpuSeconds: cpu }) };
  } finally {
    await closeSession(session);
  }
}

export interface HeldStreams {
  readonly count: number;
  /** Half-closes every stream, checks each ends with grpc-status 0, and closes the connections. */
  release(): Promise<{ ok: number; failed: number }>;
}

/**
 * Opens `count` PingPong calls (spread over connections of `perConnection`
 * streams), each exchanging one message so the server has really started
 * its handler, and keeps them open.
 */
export async function holdStreams(
  port: number,
  opts: { count: number; perConnection: number; timeoutMs: number },
): Promise<HeldStreams> {
  const ping = frame(encodePayload({ body: bodyOf(SMALL_BODY_BYTES) }));
  const sessions: http2.ClientHttp2Session[] = [];
  const streams: { stream: http2.ClientHttp2Stream; status: Promise<string> }[] = [];
  const answered: Promise<void>[] = [];
  for (let opened = 0; opened < opts.count; ) {
    const session = await connect(port);
    sessions.push(session);
    const n = Math.min(opts.perConnection, opts.count - opened);
    for (let i = 0; i < n; i++) {
      const stream = open(session, PATHS.pingPong);
      const status = statusOf(stream);
      const counter = new FrameCounter();
      answered.push(
        new Promise<void>((resolve, reject) => {
          stream.on('data', (chunk: Buffer) => {
            if (counter.push(chunk) > 0) resolve();
          });
          stream.on('close', () => reject(new Error('a held stream closed before its first answer')));
        }),
      );
      stream.write(ping);
      streams.push({ stream, status });
    }
    opened += n;
  }
  const closeAll = async (): Promise<void> => {
    for (const s of sessions) s.destroy();
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(answered),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`not all ${opts.count} streams answered within ${opts.timeoutMs} ms`)),
          opts.timeoutMs,
        );
      }),
    ]);
  } catch (err) {
    await closeAll();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return {
    count: streams.length,
    async release() {
      for (const { stream } of streams) stream.end();
      const timeout = sleep(10000).then(() => 'timeout');
      const codes = await Promise.all(streams.map(({ status }) => Promise.race([status, timeout])));
      await Promise.all(sessions.map(closeSession));
      const ok = codes.filter((c) => c === '0').length;
      return { ok, failed: codes.length - ok };
    },
  };
}
