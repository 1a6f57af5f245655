/**
 * The portable backend's HTTP/2 engine under stress and abuse: flow control
 * in both directions with slow or shrinking windows, backpressure towards
 * handlers, stream lifecycles that end early or oddly, and error paths, over
 * real sockets with raw frames (./h2-frames.js), node:http2 and gRPC clients.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
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

async function handler(request: ServerRequest): Promise<ServerResponse> {
  const params = new URLSearchParams(request.query);
  switch (request.path) {
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

// ---------------------------------------------------------------------------
// Stream lifecycle

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

