/**
 * The portable backend's HTTP/2 engine under stress and abuse: flow control
 * in both directions with slow or shrinking windows, backpressure towards
 * handlers, stream lifecycles that end early or oddly, and error paths, over
 * real sockets with raw frames (./h2-frames.js), node:http2 and gRPC clients.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import {
  StreamResetError,
  createRequestQueue,
  type Logger,
  type RequestQueue,
  type ServerRequest,
  type ServerResponse,
} from '../../src/index.js';
import { runExchange, type ExchangeContext } from '../../src/transport/exchange.js';
import type { H2Connection } from '../../src/transport/h2/connection.js';
import { serveHttp2, type H2ServerContext } from '../../src/transport/node/h2-exchange.js';
import { serve as serveGrpc } from '../interop/harness.js';
import { createInteropServer, INTEROP_PROTO_DIR, TEST_PROTO } from '../interop/test-service.js';
import {
  E,
  F,
  OpenConnections,
  RawH2,
  S,
  T,
  data,
  describe as describeFrames,
  encodeFields,
  errorName,
  frame,
  goaway,
  headers,
  ping,
  requestFields,
  settings,
  u32,
  windowUpdate,
  type Field,
} from './h2-frames.js';
import { gate, pass } from './gates.js';

const quiet: Logger = { warn: () => undefined, error: () => undefined };
const TIMEOUT = { timeout: 20_000 };

let queue: RequestQueue;
let port: number;

/** What an endless response handler has done, by id. */
interface Producer {
  produced: number;
  /** Resolves with the signal's reason once it fires. */
  readonly aborted: Promise<unknown>;
  /** Resolves once the body generator has been closed. */
  readonly finished: Promise<void>;
}
const producers = new Map<string, Producer>();
/** How a background body read ended ('done' or the error's name), by id. */
const outcomes = new Map<string, Promise<string>>();
const signals = new Map<string, AbortSignal>();

function endless(request: ServerRequest, id: string, chunk: number): ServerResponse {
  let onFinished!: () => void;
  const finished = new Promise<void>((r) => (onFinished = r));
  const signal = request.signal;
  const aborted = new Promise<unknown>((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
  const p: Producer = { produced: 0, aborted, finished };
  producers.set(id, p);
  async function* body(): AsyncGenerator<Uint8Array> {
    try {
      // Bounded so a server that never pushes back still ends the test.
      while (p.produced < 1024 * 1024 * 1024) {
        p.produced += chunk;
        yield Buffer.alloc(chunk, 0x63);
      }
    } finally {
      onFinished();
    }
  }
  return { status: 200, body: body() };
}

/** Resolves once `read()` has stopped changing for a few samples (or after a bound). */
async function settledValue(read: () => number): Promise<number> {
  let last = -1;
  let same = 0;
  for (let i = 0; i < 200 && same < 5; i++) {
    await new Promise((r) => setTimeout(r, 40));
    const v = read();
    same = v === last ? same + 1 : 0;
    last = v;
  }
  return last;
}

async function handler(request: ServerRequest): Promise<ServerResponse> {
  const params = new URLSearchParams(request.query);
  switch (request.path) {
    case '/e/endless':
      return endless(request, params.get('id') ?? '', Number(params.get('chunk') ?? '65536'));
    case '/e/part-then-gate': {
      // 1000 octets, then the end once the gate opens.
      const id = params.get('id') ?? '';
      const first = Number(params.get('n') ?? '1000');
      async function* body(): AsyncGenerator<Uint8Array> {
        yield Buffer.alloc(first, 0x61);
        await pass(id);
      }
      return { status: 200, body: body() };
    }
    case '/e/count': {
      let bytes = 0;
      for await (const chunk of request.body) bytes += chunk.byteLength;
      return { status: 200, body: String(bytes) };
    }
    case '/e/ignore-body':
      // Answers at once and never reads the request body.
      return { status: 200, body: 'ignored' };
    case '/e/big-header':
      return { status: 200, headers: { 'x-big': 'h'.repeat(Number(params.get('n') ?? '0')) }, body: 'small' };
    case '/e/status':
      return { status: Number(params.get('code')), body: 'informational?' };
    case '/e/throw-sync':
      throw new Error('handler failed');
    case '/e/respond-then-read': {
      // Reads one chunk, answers, and keeps reading in the background.
      const it = request.body[Symbol.asyncIterator]();
      await it.next();
      const id = params.get('id') ?? '';
      let onOutcome!: (o: string) => void;
      outcomes.set(id, new Promise<string>((r) => (onOutcome = r)));
      void (async () => {
        try {
          for (;;) {
            const r = await it.next();
            if (r.done) return onOutcome('done');
          }
        } catch (err) {
          onOutcome((err as Error).name);
        }
      })();
      return { status: 200, body: 'answered early' };
    }
    case '/e/signal-after-end': {
      const signal = request.signal;
      signals.set(params.get('id') ?? '', signal);
      return { status: 200, body: 'complete' };
    }
    case '/e/trailers':
      return { status: 200, body: Buffer.alloc(Number(params.get('n') ?? '0'), 0x74), trailers: { 'x-check': 'done' } };
    case '/e/reset-code':
      throw new StreamResetError(Number(params.get('code')));
    case '/e/big':
      return { status: 200, body: Buffer.alloc(Number(params.get('n') ?? '0'), 0x62) };
    default:
      return { status: 404, body: 'none' };
  }
}

before(async () => {
  queue = await createRequestQueue({ urls: ['http://127.0.0.1:0/e/'], backend: 'node', logger: quiet });
  port = Number(/:(\d+)\//.exec(queue.urls[0]!)![1]);
  queue.serve(handler);
});

after(async () => {
  await queue.close();
});

const open = new OpenConnections();

async function connect(options?: Parameters<typeof RawH2.connect>[1]): Promise<RawH2> {
  return open.track(await RawH2.connect(port, options));
}

function h2test(name: string, body: () => Promise<void>): void {
  test(name, TIMEOUT, async () => {
    try {
      await body();
    } finally {
      open.closeAll();
    }
  });
}

function get(path: string, extra: readonly Field[] = []): Buffer {
  return encodeFields(requestFields(port, 'GET', path, extra));
}

function ended(c: RawH2, stream: number): boolean {
  return c.frames.some((f) => f.stream === stream && (f.type === T.DATA || f.type === T.HEADERS) && (f.flags & F.END_STREAM) !== 0);
}

function dataBytes(c: RawH2, stream: number): number {
  let n = 0;
  for (const f of c.frames) if (f.type === T.DATA && f.stream === stream) n += f.payload.length;
  return n;
}

async function expectAlive(c: RawH2, what: string): Promise<void> {
  const alive = await c.sync();
  assert.ok(alive, `${what}: the connection ended; frames: ${describeFrames(c.frames)}`);
  assert.equal(c.goaway(), undefined, `${what}: unexpected GOAWAY; frames: ${describeFrames(c.frames)}`);
}

/** The request queue has no exchange left in flight (polled: the last one settles after its final frame). */
async function expectNothingInFlight(q: RequestQueue): Promise<void> {
  for (let i = 0; i < 200 && q.stats().inFlight > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(q.stats().inFlight, 0, 'exchanges left in flight');
}

// ---------------------------------------------------------------------------
// Flow control towards the client

h2test('a response ending while SETTINGS made the stream window negative ends with an empty DATA frame', async () => {
  const c = await connect({ autoWindow: false });
  const g = gate('negative-end');
  c.send(headers(1, get('/e/part-then-gate?id=negative-end&n=1000'), { endStream: true }));
  await g.entered;
  await c.until(() => (dataBytes(c, 1) >= 1000 ? true : undefined), '1000 octets of DATA');
  // 1000 sent of 65535: an initial window of 0 leaves the stream at -1000.
  c.send(settings([[S.INITIAL_WINDOW_SIZE, 0]]));
  await c.settle();
  g.release();
  const r = await c.response(1);
  assert.equal(r.status, '200');
  assert.equal(r.reset, undefined, `reset ${errorName(r.reset)}`);
  assert.equal(r.body.length, 1000);
  const last = c.streamFrames(1).at(-1)!;
  assert.equal(last.type, T.DATA);
  assert.equal(last.payload.length, 0, 'the closing DATA frame carries no octets');
  assert.equal(last.flags & F.END_STREAM, F.END_STREAM);
  await expectAlive(c, 'after the empty DATA frame');
});

interface H2Result {
  status: number;
  body: Buffer;
}

/** One request on a node:http2 session; `slow` reads the response body in pieces, pausing in between. */
function request(session: http2.ClientHttp2Session, method: string, path: string, body?: Uint8Array, slow = false): Promise<H2Result> {
  return new Promise<H2Result>((resolve, reject) => {
    const req = session.request({ ':method': method, ':path': path });
    const chunks: Buffer[] = [];
    let status = 0;
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (b: Buffer) => {
      chunks.push(b);
      if (slow) {
        req.pause();
        setTimeout(() => req.resume(), 1);
      }
    });
    req.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

async function withSession<R>(use: (session: http2.ClientHttp2Session) => Promise<R>, options?: http2.ClientSessionOptions): Promise<R> {
  const session = http2.connect(`http://127.0.0.1:${port}`, options);
  session.on('error', () => undefined);
  try {
    return await use(session);
  } finally {
    session.close();
  }
}

h2test('many streams download bodies larger than both windows, read slowly, and each arrives whole', async () => {
  await withSession(async (session) => {
    const sizes = Array.from({ length: 12 }, (_, i) => 300_000 + i * 77_777);
    const results = await Promise.all(sizes.map((n) => request(session, 'GET', `/e/big?n=${n}`, undefined, true)));
    results.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.equal(r.body.length, sizes[i]);
      assert.ok(r.body.every((b) => b === 0x62));
    });
  });
});

h2test('a client with a small connection window and many competing streams gets every response whole', async () => {
  const c = await connect({ settings: [[S.INITIAL_WINDOW_SIZE, 1 << 20]], autoWindow: false });
  const streams = Array.from({ length: 16 }, (_, i) => 1 + 2 * i);
  for (const id of streams) c.send(headers(id, get(`/e/big?n=${100_000 + id * 1000}`), { endStream: true }));
  // Give the connection window back in small steps, only for what arrived.
  let credited = 0;
  const expected = streams.reduce((sum, id) => sum + 100_000 + id * 1000, 0);
  while (credited < expected) {
    let arrived = 0;
    for (const f of c.frames) if (f.type === T.DATA) arrived += f.payload.length;
    if (arrived > credited) {
      c.send(windowUpdate(0, arrived - credited));
      credited = arrived;
    }
    if (credited < expected) await c.until(() => {
      let now = 0;
      for (const f of c.frames) if (f.type === T.DATA) now += f.payload.length;
      return now > credited ? true : undefined;
    }, `more DATA after ${credited} of ${expected} octets`);
  }
  for (const id of streams) {
    const r = await c.response(id);
    assert.equal(r.status, '200');
    assert.equal(r.body.length, 100_000 + id * 1000);
  }
});

h2test('a small response is not held behind a large one competing for the same connection window', async () => {
  // Stream windows wide open, the connection window given back in small steps: it is the only limit.
  const c = await connect({ settings: [[S.INITIAL_WINDOW_SIZE, 0x7fffffff]], autoWindow: false });
  const large = 8 * 1024 * 1024;
  c.send(headers(1, get(`/e/big?n=${large}`), { endStream: true }));
  await c.until(() => (dataBytes(c, 1) >= 65535 ? true : undefined), 'the first connection window of DATA');
  c.send(headers(3, get('/e/big?n=10'), { endStream: true }));
  await c.until(() => c.streamFrames(3).find((f) => f.type === T.HEADERS), 'the small response head');
  let credited = 65535;
  while (!ended(c, 3) && !ended(c, 1)) {
    c.send(windowUpdate(0, 16384));
    credited += 16384;
    await c.until(() => {
      const got = dataBytes(c, 1) + dataBytes(c, 3);
      return got >= credited || ended(c, 3) ? true : undefined;
    }, `DATA for ${credited} octets of credit`);
  }
  assert.ok(ended(c, 3), `the small response waited for the whole large one (${dataBytes(c, 1)} octets)`);
  assert.equal(dataBytes(c, 3), 10);
  assert.ok(dataBytes(c, 1) < large);
});

h2test('uploads of several MiB on many streams at once all complete (the server grants window as handlers read)', async () => {
  await withSession(async (session) => {
    const sizes = Array.from({ length: 8 }, (_, i) => 3 * 1024 * 1024 + i * 100_003);
    const results = await Promise.all(sizes.map((n) => request(session, 'POST', '/e/count', Buffer.alloc(n, 1))));
    results.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), String(sizes[i]));
    });
  });
});

h2test('request bodies a handler never reads give their connection window back when their streams end', async () => {
  await withSession(async (session) => {
    // 100 x 256 KiB unread is far beyond the 16 MiB connection window the server grants.
    for (let i = 0; i < 100; i++) {
      const r = await request(session, 'POST', '/e/ignore-body', Buffer.alloc(256 * 1024, 2));
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'ignored');
    }
    const last = await request(session, 'POST', '/e/count', Buffer.alloc(5 * 1024 * 1024, 3));
    assert.equal(last.body.toString(), String(5 * 1024 * 1024));
  });
});

// ---------------------------------------------------------------------------
// Backpressure towards handlers

/** A client with windows wide open that stops reading its socket after the first DATA of an endless response. */
async function stalledDownload(id: string): Promise<{ c: RawH2; p: Producer; stalledAt: number }> {
  const c = await connect({ settings: [[S.INITIAL_WINDOW_SIZE, 0x7fffffff]], autoWindow: false });
  c.send(windowUpdate(0, 0x7fffffff - 65535));
  c.send(headers(1, get(`/e/endless?id=${id}&chunk=262144`), { endStream: true }));
  await c.until(() => (dataBytes(c, 1) > 0 ? true : undefined), 'the first DATA');
  c.socket.pause();
  const p = producers.get(id)!;
  const stalledAt = await settledValue(() => p.produced);
  // Socket buffers on both sides plus a chunk or two: far below what an unbounded writer would have produced.
  assert.ok(stalledAt < 128 * 1024 * 1024, `the handler produced ${stalledAt} octets for a client that reads nothing`);
  return { c, p, stalledAt };
}

h2test('a handler streaming to a client that stops reading waits, and goes on when the client reads again', async () => {
  const { c, p, stalledAt } = await stalledDownload('stall-resume');
  c.socket.resume();
  await c.until(() => (p.produced > stalledAt + 8 * 1024 * 1024 ? true : undefined), 'more output after the client read again');
  c.send(frame(T.RST_STREAM, 0, 1, u32(E.CANCEL)));
  await p.finished;
  const reason = await p.aborted;
  assert.ok(reason instanceof Error);
});

h2test('a handler waiting on a client that stopped reading is released when the client resets the stream', async () => {
  const { c, p } = await stalledDownload('stall-reset');
  c.send(frame(T.RST_STREAM, 0, 1, u32(E.CANCEL)));
  const reason = await p.aborted;
  assert.equal((reason as Error).name, 'ClientResetError');
  await p.finished;
  await expectNothingInFlight(queue);
});

h2test('a handler waiting on a client that stopped reading is released when the client disconnects', async () => {
  const { c, p } = await stalledDownload('stall-disconnect');
  c.socket.destroy();
  const reason = await p.aborted;
  assert.equal((reason as Error).name, 'ClientDisconnectedError');
  await p.finished;
  await expectNothingInFlight(queue);
});

h2test('a handler streaming into a zero window waits for WINDOW_UPDATE (flow control, not buffering)', async () => {
  const c = await connect({ autoWindow: false });
  c.send(headers(1, get('/e/endless?id=window-wait&chunk=16384'), { endStream: true }));
  await c.until(() => (dataBytes(c, 1) >= 65535 ? true : undefined), 'the first window of DATA');
  const p = producers.get('window-wait')!;
  const stalledAt = await settledValue(() => p.produced);
  assert.ok(stalledAt <= 65535 + 3 * 16384, `the handler produced ${stalledAt} octets into a 65535-octet window`);
  await c.settle();
  assert.equal(dataBytes(c, 1), 65535);
  // Small updates, one after the other: each lets a little more through.
  for (let i = 1; i <= 20; i++) {
    c.send(windowUpdate(0, 1000), windowUpdate(1, 1000));
    await c.until(() => (dataBytes(c, 1) >= 65535 + i * 1000 ? true : undefined), `DATA after update ${i}`);
  }
  await c.settle();
  assert.equal(dataBytes(c, 1), 65535 + 20 * 1000);
  c.send(frame(T.RST_STREAM, 0, 1, u32(E.CANCEL)));
  await p.finished;
});

// ---------------------------------------------------------------------------
// Stream lifecycle

h2test('a client that sends GOAWAY and then reads a large response slowly still gets all of it', async () => {
  const big = 48 * 1024 * 1024;
  const c = await connect({ settings: [[S.INITIAL_WINDOW_SIZE, 0x7fffffff]], autoWindow: false });
  c.send(windowUpdate(0, 0x7fffffff - 65535));
  c.send(headers(1, get(`/e/big?n=${big}`), { endStream: true }));
  await c.until(() => (dataBytes(c, 1) > 0 ? true : undefined), 'the first DATA');
  // Graceful close by the client (its open stream goes on), then a long pause in reading while
  // the server has handed the whole body to its socket.
  c.send(goaway(0, E.NO_ERROR));
  c.socket.pause();
  await new Promise((r) => setTimeout(r, 3000));
  c.socket.resume();
  const r = await c.untilOrClosed(() => (ended(c, 1) ? true : undefined));
  assert.equal(dataBytes(c, 1), big, `the connection closed (${c.closed}) after ${dataBytes(c, 1)} of ${big} octets`);
  assert.equal(r, true);
});

h2test('a listener answer (404) to an unfinished request waits for window before refusing the rest of the body', async () => {
  const c = await connect({ settings: [[S.INITIAL_WINDOW_SIZE, 0]], autoWindow: false });
  // Outside every prefix: the listener answers 404 itself; the request body is still open.
  c.send(headers(1, encodeFields(requestFields(port, 'POST', '/elsewhere'))));
  await c.until(() => c.streamFrames(1).find((f) => f.type === T.HEADERS), 'the response head');
  await c.settle();
  c.send(windowUpdate(1, 1000));
  const r = await c.response(1);
  assert.equal(r.status, '404');
  assert.equal(r.body.toString(), 'Not Found\n', `frames: ${describeFrames(c.frames)}`);
  // Only after the complete response may the server refuse the rest of the body.
  const frames = c.streamFrames(1);
  const end = frames.findIndex((f) => (f.flags & F.END_STREAM) !== 0 && f.type === T.DATA);
  const rst = frames.findIndex((f) => f.type === T.RST_STREAM);
  assert.ok(end >= 0, `no END_STREAM: ${describeFrames(frames)}`);
  if (rst >= 0) {
    assert.ok(rst > end, `RST_STREAM before the end of the response: ${describeFrames(frames)}`);
    assert.equal(frames[rst]!.payload.readUInt32BE(0), E.NO_ERROR);
  }
  await expectAlive(c, 'after the 404');
});

for (const code of [-1, 2 ** 32, 1.5]) {
  h2test(`a StreamResetError with the invalid code ${code} resets the stream with INTERNAL_ERROR and the connection serves on`, async () => {
    const c = await connect();
    c.send(headers(1, get(`/e/reset-code?code=${code}`), { endStream: true }));
    const r = await c.response(1);
    assert.equal(r.reset, E.INTERNAL_ERROR, `frames: ${describeFrames(c.frames)}`);
    await expectAlive(c, 'after the reset');
    c.send(headers(3, get('/e/big?n=10'), { endStream: true }));
    const next = await c.response(3);
    assert.equal(next.status, '200');
    await expectNothingInFlight(queue);
  });
}

// ---------------------------------------------------------------------------
// Floods versus legitimate load

h2test('a PING while megabytes of granted response wait in the socket is answered, not taken for a flood', async () => {
  const big = 64 * 1024 * 1024;
  const c = await connect({ settings: [[S.INITIAL_WINDOW_SIZE, 0x7fffffff]], autoWindow: false });
  c.send(windowUpdate(0, 0x7fffffff - 65535));
  c.send(headers(1, get(`/e/big?n=${big}`), { endStream: true }));
  await c.until(() => (dataBytes(c, 1) > 0 ? true : undefined), 'the first DATA');
  // Stop reading: the rest of the body waits in the server's socket buffer.
  c.socket.pause();
  c.send(ping(Buffer.concat([u32(1), u32(2)])));
  await new Promise((r) => setTimeout(r, 300));
  c.socket.resume();
  const r = await c.response(1);
  assert.equal(r.body.length, big, `frames other than DATA: ${describeFrames(c.frames.filter((f) => f.type !== T.DATA))}`);
  await expectAlive(c, 'after the download');
});


h2test('a handler still reading after its early answer gets an error, not a clean end, when the unread body is refused', async () => {
  const c = await connect();
  c.send(headers(1, encodeFields(requestFields(port, 'POST', '/e/respond-then-read?id=early'))), data(1, Buffer.alloc(100, 1)));
  const r = await c.response(1);
  assert.equal(r.status, '200');
  assert.equal(r.body.toString(), 'answered early');
  const frames = c.streamFrames(1);
  await c.until(() => c.streamFrames(1).find((f) => f.type === T.RST_STREAM), 'RST_STREAM for the unread body');
  const rst = c.streamFrames(1).find((f) => f.type === T.RST_STREAM)!;
  assert.equal(rst.payload.readUInt32BE(0), E.NO_ERROR, describeFrames(frames));
  const outcome = await outcomes.get('early')!;
  assert.notEqual(outcome, 'done', 'the truncated body read as complete');
  await expectAlive(c, 'after the early answer');
});

h2test('a client reset after the complete response does not abort the exchange', async () => {
  const c = await connect();
  c.send(headers(1, encodeFields(requestFields(port, 'POST', '/e/signal-after-end?id=late-rst'))));
  const r = await c.response(1);
  assert.equal(r.body.toString(), 'complete');
  c.send(frame(T.RST_STREAM, 0, 1, u32(E.CANCEL)));
  await c.settle();
  assert.equal(signals.get('late-rst')!.aborted, false);
  await expectAlive(c, 'after the late reset');
});

h2test('an informational status from a handler is answered with 500, and the connection serves on', async () => {
  const c = await connect();
  c.send(headers(1, get('/e/status?code=103'), { endStream: true }));
  const r = await c.response(1);
  assert.equal(r.status, '500');
  c.send(headers(3, get('/e/throw-sync'), { endStream: true }));
  assert.equal((await c.response(3)).status, '500');
  c.send(headers(5, get('/e/big?n=3'), { endStream: true }));
  assert.equal((await c.response(5)).status, '200');
});

// ---------------------------------------------------------------------------
// RFC 9113 corners

h2test('RFC 9113 6.10: END_STREAM on a HEADERS continued by CONTINUATION ends the request', async () => {
  const c = await connect();
  const block = encodeFields(requestFields(port, 'POST', '/e/count', [['x-pad', 'p'.repeat(300)]]));
  c.send(
    headers(1, block.subarray(0, 40), { endStream: true, endHeaders: false }),
    frame(T.CONTINUATION, 0, 1, block.subarray(40, 200)),
    frame(T.CONTINUATION, F.END_HEADERS, 1, block.subarray(200)),
  );
  const r = await c.response(1);
  assert.equal(r.status, '200');
  assert.equal(r.body.toString(), '0');
});

h2test('RFC 9113 6.2: HEADERS with both PADDED and PRIORITY are served', async () => {
  const c = await connect();
  const payload = Buffer.concat([Buffer.from([7]), Buffer.from([0, 0, 0, 0, 15]), get('/e/big?n=5'), Buffer.alloc(7)]);
  c.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM | F.PADDED | F.PRIORITY, 1, payload));
  const r = await c.response(1);
  assert.equal(r.status, '200');
  assert.equal(r.body.length, 5);
});

h2test('RFC 9113 6.2: padding that leaves no room for the priority fields is a connection error PROTOCOL_ERROR', async () => {
  const c = await connect();
  // Pad Length 3, then 5 octets: the padding eats into the priority fields.
  const payload = Buffer.concat([Buffer.from([3]), Buffer.alloc(5)]);
  c.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM | F.PADDED | F.PRIORITY, 1, payload));
  const e = await c.connectionError();
  assert.ok(e !== undefined, describeFrames(c.frames));
  if (e.code !== undefined) assert.equal(errorName(e.code), errorName(E.PROTOCOL_ERROR));
});

h2test('RFC 9113 6.2: HEADERS with PRIORITY too short for its fields is a connection error FRAME_SIZE_ERROR', async () => {
  const c = await connect();
  c.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM | F.PRIORITY, 1, Buffer.alloc(3)));
  const e = await c.connectionError();
  assert.ok(e !== undefined, describeFrames(c.frames));
  if (e.code !== undefined) assert.equal(errorName(e.code), errorName(E.FRAME_SIZE_ERROR));
});

h2test('RFC 9113 5.1.1: streams up to the largest id 2^31-1 are served', async () => {
  const c = await connect();
  for (const id of [0x7ffffffb, 0x7ffffffd, 0x7fffffff]) {
    c.send(headers(id, get('/e/big?n=4'), { endStream: true }));
    const r = await c.response(id);
    assert.equal(r.status, '200', `stream ${id}`);
  }
  await expectAlive(c, 'after the last stream id');
});

h2test('RFC 9113 4.2/6.10: a response header block larger than the client frame size goes out as HEADERS and CONTINUATION', async () => {
  const c = await connect();
  c.send(headers(1, get('/e/big-header?n=40000'), { endStream: true }));
  const r = await c.response(1);
  assert.equal(r.status, '200');
  assert.equal(r.headers.find(([n]) => n === 'x-big')?.[1].length, 40000);
  const frames = c.streamFrames(1);
  assert.ok(frames.every((f) => f.payload.length <= 16384), describeFrames(frames));
  assert.equal(frames[0]!.type, T.HEADERS);
  assert.equal(frames[0]!.flags & F.END_HEADERS, 0);
  assert.ok(frames.filter((f) => f.type === T.CONTINUATION).length >= 2, describeFrames(frames));
});

h2test('RFC 9113 4.2: after the client raises SETTINGS_MAX_FRAME_SIZE, responses use the larger frames', async () => {
  const c = await connect({ settings: [[S.MAX_FRAME_SIZE, 1 << 20], [S.INITIAL_WINDOW_SIZE, 4 << 20]] });
  c.send(windowUpdate(0, 4 << 20));
  c.send(headers(1, get('/e/big?n=1000000'), { endStream: true }), headers(3, get('/e/big-header?n=40000'), { endStream: true }));
  const r = await c.response(1);
  assert.equal(r.body.length, 1000000);
  assert.ok(c.streamFrames(1).some((f) => f.type === T.DATA && f.payload.length > 16384), describeFrames(c.streamFrames(1)));
  const h = await c.response(3);
  assert.equal(h.status, '200');
  assert.equal(c.streamFrames(3).filter((f) => f.type === T.CONTINUATION).length, 0);
});

// ---------------------------------------------------------------------------
// The engine's own bookkeeping, on a server made of its parts

/** A listening socket whose connections run on the engine, every request going to `handle`. */
async function engineServer(
  handle: (request: ServerRequest) => Promise<ServerResponse> | ServerResponse,
  route?: H2ServerContext['route'],
): Promise<{
  port: number;
  connections: H2Connection[];
  close(): Promise<void>;
}> {
  const connections: H2Connection[] = [];
  const exchange: ExchangeContext = { handlers: [handle], logger: quiet, maxRequestBodyBytes: Infinity, warnOnce: () => undefined };
  const done = { exchangeDone: () => undefined };
  let boundPort = 0;
  const ctx: H2ServerContext = {
    scheme: 'http',
    get port() {
      return boundPort;
    },
    maxHeaderBytes: 65536,
    logger: quiet,
    route: route ?? (() => ({ prefixUrl: 'http://127.0.0.1:0/', deliver: (e) => runExchange(e, exchange, done) })),
    peers: new WeakMap(),
  };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    connections.push(
      serveHttp2(socket, ctx, {
        maxHeaderListSize: 65536,
        maxConcurrentStreams: 100,
        streamWindow: 256 * 1024,
        connectionWindow: 16 * 1024 * 1024,
        idleTimeoutMs: 0,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  boundPort = (server.address() as net.AddressInfo).port;
  return {
    port: boundPort,
    connections,
    close: async () => {
      for (const c of connections) c.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('after many requests of every kind, the connection has no stream left open and closes cleanly', TIMEOUT, async () => {
  const srv = await engineServer(handler);
  const c = await RawH2.connect(srv.port);
  try {
    const block = (path: string, method = 'GET'): Buffer => encodeFields(requestFields(srv.port, method, path));
    let id = 1;
    for (let round = 0; round < 20; round++) {
      const plain = id;
      c.send(headers(plain, block('/e/big?n=100'), { endStream: true }));
      const posted = (id += 2);
      c.send(headers(posted, block('/e/count', 'POST')), data(posted, Buffer.alloc(1000)), data(posted, Buffer.alloc(0), true));
      const unread = (id += 2);
      c.send(headers(unread, block('/e/ignore-body', 'POST')), data(unread, Buffer.alloc(1000)));
      const thrown = (id += 2);
      c.send(headers(thrown, block('/e/throw-sync'), { endStream: true }));
      const cancelled = (id += 2);
      c.send(headers(cancelled, block(`/e/endless?id=leak-${round}&chunk=16384`), { endStream: true }));
      const refused = (id += 2);
      c.send(headers(refused, block('/e/reset-code?code=8'), { endStream: true }));
      id += 2;
      for (const s of [plain, posted, unread, thrown, refused]) await c.response(s);
      await c.until(() => (dataBytes(c, cancelled) > 0 ? true : undefined), 'DATA of the endless stream');
      c.send(frame(T.RST_STREAM, 0, cancelled, u32(E.CANCEL)));
      await producers.get(`leak-${round}`)!.finished;
    }
    await c.settle();
    const connection = srv.connections[0]!;
    for (let i = 0; i < 100 && connection.openStreams > 0; i++) await c.settle();
    assert.equal(connection.openStreams, 0, 'streams left open');
    c.send(goaway(0, E.NO_ERROR));
    await c.untilOrClosed(() => undefined);
    assert.ok(c.closed);
    await connection.whenClosed();
    assert.equal(connection.isClosed, true);
  } finally {
    c.close();
    await srv.close();
  }
});

test('a route that throws, or delivers by throwing, costs only its stream: the connection and the process go on', TIMEOUT, async () => {
  const exchange: ExchangeContext = { handlers: [handler], logger: quiet, maxRequestBodyBytes: Infinity, warnOnce: () => undefined };
  const srv = await engineServer(handler, (target) => {
    if (target.path === '/boom') throw new Error('no route table');
    return {
      prefixUrl: 'http://127.0.0.1:0/',
      deliver: (e) => {
        if (target.path === '/boom-deliver') throw new Error('the queue is gone');
        runExchange(e, exchange, { exchangeDone: () => undefined });
      },
    };
  });
  const c = await RawH2.connect(srv.port);
  try {
    const block = (path: string): Buffer => encodeFields(requestFields(srv.port, 'GET', path));
    c.send(headers(1, block('/boom'), { endStream: true }));
    c.send(headers(3, block('/boom-deliver'), { endStream: true }));
    for (const id of [1, 3]) {
      const r = await c.response(id);
      assert.ok(r.status === '500' || r.reset === E.INTERNAL_ERROR, `stream ${id}: ${describeFrames(c.streamFrames(id))}`);
    }
    c.send(headers(5, block('/e/big?n=7'), { endStream: true }));
    const ok = await c.response(5);
    assert.equal(ok.status, '200');
    await c.settle();
    assert.equal(srv.connections[0]!.openStreams, 0);
  } finally {
    c.close();
    await srv.close();
  }
});

// ---------------------------------------------------------------------------
// Closing the queue

test('closing the queue with streams in flight on many connections: GOAWAY, aborted handlers, and every socket closes', TIMEOUT, async () => {
  const q = await createRequestQueue({ urls: ['http://127.0.0.1:0/q/'], backend: 'node', logger: quiet });
  const qport = Number(/:(\d+)\//.exec(q.urls[0]!)![1]);
  const reasons: Promise<unknown>[] = [];
  let entered!: () => void;
  let count = 0;
  const allEntered = new Promise<void>((r) => (entered = r));
  const clients = 30;
  q.serve((request) => {
    const signal = request.signal;
    reasons.push(new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true })));
    if (++count === clients * 2) entered();
    // An endless response into a client window that is never opened again.
    async function* body(): AsyncGenerator<Uint8Array> {
      for (;;) yield Buffer.alloc(16384, 1);
    }
    return { status: 200, body: body() };
  });
  const conns: RawH2[] = [];
  try {
    for (let i = 0; i < clients; i++) {
      const c = await RawH2.connect(qport, { autoWindow: false });
      conns.push(c);
      for (const id of [1, 3]) c.send(headers(id, encodeFields(requestFields(qport, 'GET', `/q/${i}`)), { endStream: true }));
    }
    await allEntered;
    await q.close();
    const all = await Promise.all(reasons);
    for (const r of all) assert.equal((r as Error).name, 'QueueClosedError');
    for (const c of conns) {
      await c.untilOrClosed(() => undefined);
      assert.ok(c.closed);
      const g = c.goaway();
      assert.ok(g !== undefined, describeFrames(c.frames.filter((f) => f.type !== T.DATA)));
      assert.equal(g.payload.readUInt32BE(4), E.NO_ERROR);
      assert.equal(g.payload.readUInt32BE(0), 3);
    }
    assert.equal(q.stats().inFlight, 0);
  } finally {
    for (const c of conns) c.close();
    await q.close();
  }
});

h2test('SETTINGS_INITIAL_WINDOW_SIZE 0 then raised: the body and the trailers queued behind it arrive in order', async () => {
  const c = await connect({ settings: [[S.INITIAL_WINDOW_SIZE, 0]] });
  c.send(headers(1, get('/e/trailers?n=100000'), { endStream: true }));
  await c.until(() => c.streamFrames(1).find((f) => f.type === T.HEADERS), 'the response head');
  await c.settle();
  assert.equal(dataBytes(c, 1), 0);
  assert.equal(c.streamFrames(1).filter((f) => f.type === T.HEADERS).length, 1, 'trailers overtook the body');
  c.send(settings([[S.INITIAL_WINDOW_SIZE, 30000]]));
  await c.until(() => (dataBytes(c, 1) >= 30000 ? true : undefined), 'the first 30000 octets');
  c.send(settings([[S.INITIAL_WINDOW_SIZE, 0]]));
  await c.settle();
  c.send(settings([[S.INITIAL_WINDOW_SIZE, 200000]]));
  const r = await c.response(1);
  assert.equal(r.body.length, 100000);
  assert.deepEqual(r.trailers, [['x-check', 'done']]);
  const frames = c.streamFrames(1);
  assert.equal(frames.at(-1)!.type, T.HEADERS, describeFrames(frames));
});

test('many clients dropping their connections at once with streams open: every handler is told, nothing stays counted', TIMEOUT, async () => {
  const q = await createRequestQueue({ urls: ['http://127.0.0.1:0/d/'], backend: 'node', logger: quiet });
  const qport = Number(/:(\d+)\//.exec(q.urls[0]!)![1]);
  const reasons: Promise<unknown>[] = [];
  const clients = 40;
  let entered!: () => void;
  const allEntered = new Promise<void>((r) => (entered = r));
  q.serve(async (request) => {
    const signal = request.signal;
    const reason = new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
    reasons.push(reason);
    if (reasons.length === clients) entered();
    await reason;
    return { status: 200, body: 'too late' };
  });
  const sessions: http2.ClientHttp2Session[] = [];
  try {
    for (let i = 0; i < clients; i++) {
      const session = http2.connect(`http://127.0.0.1:${qport}`);
      session.on('error', () => undefined);
      sessions.push(session);
      const req = session.request({ ':method': 'POST', ':path': `/d/${i}` });
      req.on('error', () => undefined);
      req.write(Buffer.alloc(1000));
    }
    await allEntered;
    assert.equal(q.stats().inFlight, clients);
    for (const s of sessions) s.destroy();
    const all = await Promise.all(reasons);
    for (const r of all) assert.equal((r as Error).name, 'ClientDisconnectedError');
    for (let i = 0; i < 200 && (q.stats().inFlight > 0 || (q.stats().connections ?? 0) > 0); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(q.stats().inFlight, 0);
    assert.equal(q.stats().connections, 0);
  } finally {
    for (const s of sessions) s.destroy();
    await q.close();
  }
});

// ---------------------------------------------------------------------------
// gRPC over the engine: flow control with @grpc/grpc-js on both sides of the stream

type Msg = Record<string, unknown>;
interface StreamingClient extends grpc.Client {
  StreamingInputCall(md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Msg) => void): grpc.ClientWritableStream<Msg>;
  StreamingOutputCall(req: Msg): grpc.ClientReadableStream<Msg>;
}

test('gRPC: concurrent client-streaming uploads and server-streaming downloads of several MiB each complete', TIMEOUT, async () => {
  const definition = protoLoader.loadSync(TEST_PROTO, { includeDirs: [INTEROP_PROTO_DIR], defaults: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { testing: { TestService: new (address: string, creds: grpc.ChannelCredentials) => StreamingClient } };
  };
  const served = await serveGrpc(createInteropServer());
  const client = new pkg.grpc.testing.TestService(served.address, grpc.credentials.createInsecure());
  try {
    const message = 512 * 1024;
    const uploads = Array.from({ length: 6 }, (_, i) =>
      new Promise<Msg>((resolve, reject) => {
        const call = client.StreamingInputCall(new grpc.Metadata(), {}, (e, r) => (e ? reject(e) : resolve(r!)));
        for (let m = 0; m < 8 + i; m++) call.write({ payload: { body: Buffer.alloc(message, m) } });
        call.end();
      }),
    );
    const downloads = Array.from({ length: 4 }, () =>
      new Promise<number[]>((resolve, reject) => {
        const sizes: number[] = [];
        const call = client.StreamingOutputCall({ responseParameters: Array.from({ length: 6 }, () => ({ size: 1024 * 1024 })) });
        call.on('data', (m: Msg) => sizes.push(((m.payload as { body: Uint8Array }).body).byteLength));
        call.on('error', reject);
        call.on('end', () => resolve(sizes));
      }),
    );
    const up = await Promise.all(uploads);
    up.forEach((r, i) => assert.equal(r.aggregatedPayloadSize, (8 + i) * message));
    for (const sizes of await Promise.all(downloads)) assert.deepEqual(sizes, Array(6).fill(1024 * 1024));
  } finally {
    client.close();
    await served.close();
  }
});

h2test('a client that asks for 100-continue gets it once the handler reads the body, then the final answer', async () => {
  await withSession(async (session) => {
    const req = session.request({ ':method': 'POST', ':path': '/e/count', expect: '100-continue' });
    const continued = new Promise<void>((resolve) => req.once('continue', resolve));
    let status = 0;
    const chunks: Buffer[] = [];
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (b: Buffer) => chunks.push(b));
    const done = new Promise<void>((resolve, reject) => {
      req.on('end', resolve);
      req.on('error', reject);
    });
    // The body is sent only after the 100: without it the request would wait forever (the test would time out).
    await continued;
    req.end(Buffer.alloc(5000, 1));
    await done;
    assert.equal(status, 200);
    assert.equal(Buffer.concat(chunks).toString(), '5000');
  });
});
