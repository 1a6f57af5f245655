/**
 * The portable backend's HTTP/2 engine under stress and abuse: flow control
 * in both directions with slow or shrinking windows, backpressure towards
 * handlers, stream lifecycles that end early or oddly, and error paths, over
 * real sockets with raw frames (./h2-frames.js), node:http2 and gRPC clients.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import {
  StreamResetError,
  createRequestQueue,
  type Logger,
  type RequestQueue,
  type ServerRequest,
  type ServerResponse,
} from '../../src/index.js';
import {
  E,
  F,
  RawH2,
  S,
  T,
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

const quiet: Logger = { warn: () => undefined, error: () => undefined };
const TIMEOUT = { timeout: 20_000 };

let queue: RequestQueue;
let port: number;

/** Requests parked until the test lets them go, by id. */
const gates = new Map<string, { entered: () => void; release: Promise<void> }>();
function gate(id: string): { entered: Promise<void>; release: () => void } {
  let entered!: () => void;
  let release!: () => void;
  const enteredP = new Promise<void>((r) => (entered = r));
  const releaseP = new Promise<void>((r) => (release = r));
  gates.set(id, { entered, release: releaseP });
  return { entered: enteredP, release };
}
async function pass(id: string): Promise<void> {
  const g = gates.get(id);
  gates.delete(id);
  g?.entered();
  await g?.release;
}

/** What an endless response handler has done, by id. */
interface Producer {
  produced: number;
  /** Resolves with the signal's reason once it fires. */
  readonly aborted: Promise<unknown>;
  /** Resolves once the body generator has been closed. */
  readonly finished: Promise<void>;
}
const producers = new Map<string, Producer>();

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

const open: RawH2[] = [];

async function connect(options?: Parameters<typeof RawH2.connect>[1]): Promise<RawH2> {
  const c = await RawH2.connect(port, options);
  open.push(c);
  return c;
}

function h2test(name: string, body: () => Promise<void>): void {
  test(name, TIMEOUT, async () => {
    try {
      await body();
    } finally {
      for (const c of open.splice(0)) c.close();
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

