/**
 * The per-call fast paths against real clients: response buffers held by a
 * slow reader, encodings nested inside encodings, one-chunk request bodies of
 * every shape, metadata read after the call, deadlines and cancellation of
 * idle handlers, over HTTP/2 and HTTP/1.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { encodeFrame, FrameDecoder, GrpcServer, methodsFromService, Status, type CallContext, type Frame } from '../../src/grpc/index.js';
import { serve } from '../interop/harness.js';
import { closeSession, connect, decodeMsgs, ECHO_PROTO, EchoService, Msg, msg, rawCall, waitFor, type EchoMsg } from './helpers.js';

/** The bytes of message `i` of stream `seed`: different in every position, stream and message. */
function pattern(seed: number, i: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let k = 0; k < size; k++) b[k] = (seed * 131 + i * 31 + k * 7 + (k >> 8)) & 0xff;
  return b;
}

function decodeBody(body: Buffer): EchoMsg[] {
  const frames: Frame[] = [];
  new FrameDecoder(1 << 30, (f) => frames.push(f)).push(body);
  return decodeMsgs(frames);
}

test('concurrent server streams to a client that reads slowly receive exactly the bytes sent, with unary calls encoded meanwhile', async () => {
  const SIZE = 24 * 1024;
  const COUNT = 12;
  const server = new GrpcServer();
  server.addService(EchoService, {
    Unary: (req: EchoMsg) => ({ text: req.text ?? '', data: pattern(req.n ?? 0, 0, 3000 + (req.n ?? 0)), n: req.n ?? 0 }),
    // Sizes around the writer's kept size (64 KiB): some encodings keep the writer, some drop it.
    ServerStream: async function* (req: EchoMsg) {
      const seed = req.n ?? 0;
      for (let i = 0; i < COUNT; i++) yield { text: `${seed}/${i}`, data: pattern(seed, i, i % 4 === 3 ? 70 * 1024 : SIZE + i), n: i };
    },
  });
  const served = await serve(server);
  // A small window: most of every response waits in the server under flow control.
  const session = http2.connect(`http://127.0.0.1:${served.port}`, { settings: { initialWindowSize: 4096 } });
  try {
    const streams: { seed: number; stream: http2.ClientHttp2Stream; chunks: Buffer[]; done: Promise<http2.IncomingHttpHeaders> }[] = [];
    for (let seed = 1; seed <= 6; seed++) {
      const stream = session.request({ ':method': 'POST', ':path': '/test.Echo/ServerStream', 'content-type': 'application/grpc', te: 'trailers' });
      const chunks: Buffer[] = [];
      const done = new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        let trailers: http2.IncomingHttpHeaders = {};
        stream.on('trailers', (t) => (trailers = t));
        stream.on('error', reject);
        stream.on('close', () => resolve(trailers));
      });
      stream.pause();
      stream.end(msg({ n: seed }));
      streams.push({ seed, stream, chunks, done });
    }
    // Unary calls (each encoded with the shared writer) while the streams' bytes wait.
    const unary = await Promise.all(
      Array.from({ length: 40 }, (_, n) => rawCall(session, '/test.Echo/Unary', { body: [msg({ text: `u${n}`, n })] })),
    );
    for (const [n, r] of unary.entries()) {
      assert.equal(r.grpcStatus, Status.OK);
      const [m] = decodeMsgs(r.frames);
      assert.equal(m?.text, `u${n}`);
      assert.ok(Buffer.from(m!.data!).equals(pattern(n, 0, 3000 + n)), `unary ${n} data intact`);
    }
    for (const s of streams) {
      s.stream.on('data', (c: Buffer) => s.chunks.push(c));
      s.stream.resume();
    }
    for (const s of streams) {
      const trailers = await s.done;
      assert.equal(trailers['grpc-status'], '0');
      const got = decodeBody(Buffer.concat(s.chunks));
      assert.equal(got.length, COUNT, `stream ${s.seed} message count`);
      for (const [i, m] of got.entries()) {
        assert.equal(m.text, `${s.seed}/${i}`);
        assert.ok(Buffer.from(m.data!).equals(pattern(s.seed, i, i % 4 === 3 ? 70 * 1024 : SIZE + i)), `stream ${s.seed} message ${i} bytes`);
      }
    }
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('a response whose encoding encodes another response (a field getter) sends both intact', async () => {
  const [unaryDef] = methodsFromService(EchoService, {});
  const inner: Uint8Array[] = [];
  const server = new GrpcServer();
  server.addService(EchoService, {
    Unary: (req: EchoMsg) => {
      const out = Msg.create({ data: pattern(9, 9, 5000), n: req.n ?? 0 });
      // Read while the outer message is being encoded: encodes another message first.
      Object.defineProperty(out, 'text', {
        enumerable: true,
        get() {
          const bytes = unaryDef!.serialize({ text: 'inner'.repeat(50), data: pattern(3, 3, 200), n: 77 });
          inner.push(bytes);
          return `outer-${req.n ?? 0}`;
        },
      });
      return out;
    },
  });
  const served = await serve(server);
  const session = await connect(served.port);
  try {
    for (let n = 0; n < 3; n++) {
      const r = await rawCall(session, '/test.Echo/Unary', { body: [msg({ n })] });
      assert.equal(r.grpcStatus, Status.OK);
      const [m] = decodeMsgs(r.frames);
      assert.equal(m?.text, `outer-${n}`);
      assert.equal(m?.n, n);
      assert.ok(Buffer.from(m!.data!).equals(pattern(9, 9, 5000)));
    }
    assert.ok(inner.length >= 3);
    for (const bytes of inner) {
      const m = Msg.toObject(Msg.decode(bytes)) as EchoMsg;
      assert.equal(m.text, 'inner'.repeat(50));
      assert.equal(m.n, 77);
      assert.ok(Buffer.from(m.data!).equals(pattern(3, 3, 200)));
    }
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('one-chunk request bodies of every shape, for unary and server-streaming methods', async () => {
  const kept: { req: EchoMsg; copy: Buffer }[] = [];
  const server = new GrpcServer({ maxReceiveMessageLength: 64 * 1024 });
  server.addService(EchoService, {
    Unary: (req: EchoMsg) => {
      if (req.data !== undefined && req.data.length > 0) kept.push({ req, copy: Buffer.from(req.data) });
      return { text: `got:${req.text ?? ''}`, n: (req.data?.length ?? 0) + (req.n ?? 0) };
    },
    ServerStream: async function* (req: EchoMsg) {
      yield { text: `got:${req.text ?? ''}`, n: req.n ?? 0 };
    },
  });
  const served = await serve(server);
  const session = await connect(served.port);
  const a = msg({ text: 'a', n: 1 });
  const gz = encodeFrame(gzipSync(Msg.encode(Msg.fromObject({ text: 'zipped', n: 5 })).finish()), true);
  const tooBig = msg({ data: new Uint8Array(64 * 1024 + 1) });
  const cases: { name: string; body: Uint8Array[]; headers?: http2.OutgoingHttpHeaders; status: Status; text?: string }[] = [
    { name: 'one frame', body: [a], status: Status.OK, text: 'got:a' },
    { name: 'a zero-length message', body: [Uint8Array.of(0, 0, 0, 0, 0)], status: Status.OK, text: 'got:' },
    { name: 'a gzip frame with grpc-encoding', body: [gz], headers: { 'grpc-encoding': 'gzip' }, status: Status.OK, text: 'got:zipped' },
    { name: 'a gzip frame without grpc-encoding', body: [gz], status: Status.INTERNAL },
    { name: 'a frame over the receive limit', body: [tooBig], status: Status.RESOURCE_EXHAUSTED },
    { name: 'a frame then part of another', body: [Buffer.concat([a, a.subarray(0, 7)])], status: Status.INTERNAL },
    { name: 'two frames in one chunk', body: [Buffer.concat([a, a])], status: Status.INTERNAL },
    { name: 'two frames in two chunks', body: [a, a], status: Status.INTERNAL },
    { name: 'no frame', body: [], status: Status.INTERNAL },
    { name: 'only empty chunks', body: [new Uint8Array(0), new Uint8Array(0)], status: Status.INTERNAL },
    { name: 'a header only', body: [a.subarray(0, 5)], status: Status.INTERNAL },
    { name: 'a bad flag', body: [Buffer.concat([Uint8Array.of(2), a.subarray(1)])], status: Status.INTERNAL },
  ];
  try {
    for (const path of ['/test.Echo/Unary', '/test.Echo/ServerStream']) {
      for (const c of cases) {
        const r = await rawCall(session, path, { body: c.body, ...(c.headers ? { headers: c.headers } : {}) });
        assert.equal(r.grpcStatus, c.status, `${path}: ${c.name} (${r.grpcMessage ?? ''})`);
        if (c.text !== undefined) assert.deepEqual(decodeMsgs(r.frames).map((m) => m.text), [c.text], `${path}: ${c.name}`);
        else assert.equal(r.frames.length, 0, `${path}: ${c.name} sends no message`);
      }
    }
    // Requests with bytes fields (small and large DATA) still hold their bytes after the calls.
    for (const size of [100, 900, 5000, 40000]) {
      const r = await rawCall(session, '/test.Echo/Unary', { body: [msg({ data: pattern(size, 1, size) })] });
      assert.equal(r.grpcStatus, Status.OK);
      assert.equal(decodeMsgs(r.frames)[0]?.n, size);
    }
    await Promise.all(Array.from({ length: 50 }, (_, i) => rawCall(session, '/test.Echo/Unary', { body: [msg({ data: pattern(i, 2, 1500 + i) })] })));
    for (const k of kept) assert.ok(Buffer.from(k.req.data!).equals(k.copy), 'a kept request message still holds its bytes');
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('metadata read after the call ended: repeated keys, -bin values, unary and streaming', async () => {
  const contexts: CallContext[] = [];
  const server = new GrpcServer();
  server.addService(EchoService, {
    Unary: (_req: EchoMsg, ctx: CallContext) => {
      contexts.push(ctx);
      return {};
    },
    ServerStream: async function* (_req: EchoMsg, ctx: CallContext) {
      contexts.push(ctx);
      yield {};
    },
    ClientStream: async (requests: AsyncIterable<EchoMsg>, ctx: CallContext) => {
      contexts.push(ctx);
      for await (const _ of requests);
      return {};
    },
  });
  const served = await serve(server);
  const session = await connect(served.port);
  const bin = Buffer.from([0, 1, 2, 250, 251]);
  try {
    for (const path of ['/test.Echo/Unary', '/test.Echo/ServerStream', '/test.Echo/ClientStream']) {
      // Arrays go out as repeated header lines.
      const stream = session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        'x-one': 'first',
        'x-two': ['a', 'b'],
        'x-data-bin': [bin.toString('base64'), 'AQI'],
      });
      stream.end(msg({}));
      await new Promise<void>((resolve) => {
        stream.resume();
        stream.on('close', () => resolve());
      });
    }
    await waitFor(() => server.activeCalls === 0, 'calls ended');
    assert.equal(contexts.length, 3);
    for (const ctx of contexts) {
      assert.deepEqual(ctx.metadata.getAll('x-one'), ['first'], ctx.method);
      assert.deepEqual(ctx.metadata.getAll('x-two'), ['a', 'b'], ctx.method);
      assert.deepEqual(ctx.metadata.getAll('x-data-bin').map((v) => [...(v as Uint8Array)]), [[...bin], [1, 2]], ctx.method);
      assert.equal(ctx.metadata.get('te'), undefined);
    }
    // A bad -bin value repeated after a good one is refused for every kind of call.
    for (const path of ['/test.Echo/Unary', '/test.Echo/ServerStream', '/test.Echo/ClientStream']) {
      const stream = session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        'x-data-bin': ['AQI', 'not base64!'],
      });
      stream.end(msg({}));
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => {
        let h: http2.IncomingHttpHeaders = {};
        stream.on('response', (x) => (h = x));
        stream.on('error', () => undefined);
        stream.resume();
        stream.on('close', () => resolve(h));
      });
      assert.equal(headers['grpc-status'], String(Status.INTERNAL), path);
    }
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('deadlines: many concurrent calls past a short deadline, a stream cut while a slow client holds its bytes', async () => {
  const reasons: unknown[] = [];
  const server = new GrpcServer();
  server.addService(EchoService, {
    Unary: async (req: EchoMsg, ctx: CallContext) => {
      if (req.text === 'hang') {
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        reasons.push(ctx.signal.reason);
      }
      return { n: req.n ?? 0 };
    },
    ServerStream: async function* (req: EchoMsg, ctx: CallContext) {
      for (let i = 0; !ctx.signal.aborted; i++) yield { n: i, data: pattern(req.n ?? 0, i, 16 * 1024) };
    },
  });
  const served = await serve(server);
  const session = http2.connect(`http://127.0.0.1:${served.port}`, { settings: { initialWindowSize: 8192 } });
  try {
    const calls = [];
    for (let i = 0; i < 300; i++) {
      const hang = i % 3 !== 0;
      calls.push(
        rawCall(session, '/test.Echo/Unary', {
          headers: { 'grpc-timeout': hang ? `${20 + (i % 7)}m` : '100S' },
          body: [msg({ text: hang ? 'hang' : 'ok', n: i })],
        }),
      );
    }
    const results = await Promise.all(calls);
    for (const [i, r] of results.entries()) {
      if (i % 3 !== 0) assert.equal(r.grpcStatus, Status.DEADLINE_EXCEEDED, `call ${i}`);
      else {
        assert.equal(r.grpcStatus, Status.OK, `call ${i}`);
        assert.equal(decodeMsgs(r.frames)[0]?.n, i);
      }
    }
    await waitFor(() => reasons.length === 200, 'every hanging handler saw its signal');
    for (const reason of reasons) assert.equal((reason as { code?: number }).code, Status.DEADLINE_EXCEEDED);

    // The deadline passes while the stream's messages wait for the paused client.
    const stream = session.request({ ':method': 'POST', ':path': '/test.Echo/ServerStream', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '100m' });
    stream.pause();
    stream.end(msg({ n: 4 }));
    await waitFor(() => server.activeCalls === 0, 'the stream ended at its deadline');
    const chunks: Buffer[] = [];
    const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve) => {
      let t: http2.IncomingHttpHeaders = {};
      stream.on('trailers', (x) => (t = x));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('close', () => resolve(t));
      stream.resume();
    });
    assert.equal(trailers['grpc-status'], String(Status.DEADLINE_EXCEEDED));
    const got = decodeBody(Buffer.concat(chunks));
    for (const [i, m] of got.entries()) {
      assert.equal(m.n ?? 0, i);
      assert.ok(Buffer.from(m.data!).equals(pattern(4, i, 16 * 1024)), `message ${i} intact`);
    }
  } finally {
    await closeSession(session);
    await served.close();
  }
});

function idleServer(seen: { signal: string[]; ended: number }): GrpcServer {
  const server = new GrpcServer();
  server.addService(EchoService, {
    ServerStream: async function* (_req: EchoMsg, ctx: CallContext) {
      yield { n: 1 };
      // Idle: waits on nothing but the signal.
      await new Promise<void>((resolve) =>
        ctx.signal.addEventListener(
          'abort',
          () => {
            seen.signal.push(String((ctx.signal.reason as { code?: number }).code));
            resolve();
          },
          { once: true },
        ),
      );
      seen.ended++;
    },
  });
  return server;
}

test('a client cancelling an idle server stream aborts the handler signal over HTTP/2 and HTTP/1.1', async () => {
  const seen = { signal: [] as string[], ended: 0 };
  const server = idleServer(seen);
  const served = await serve(server);
  const session = await connect(served.port);
  try {
    const call = rawCall(session, '/test.Echo/ServerStream', { body: [msg({})] });
    await waitFor(() => server.activeCalls === 1, 'the call started');
    await new Promise((r) => setTimeout(r, 20));
    call.stream.close(http2.constants.NGHTTP2_CANCEL);
    await call;
    await waitFor(() => seen.signal.length === 1, 'the signal aborted (HTTP/2)');
    assert.equal(seen.signal[0], String(Status.CANCELLED));

    const req = http.request({ host: '127.0.0.1', port: served.port, method: 'POST', path: '/test.Echo/ServerStream', headers: { 'content-type': 'application/grpc', te: 'trailers' } });
    req.on('error', () => undefined);
    const firstData = new Promise<void>((resolve) => req.on('response', (res) => res.once('data', () => resolve())));
    req.end(msg({}));
    await firstData;
    req.destroy();
    await waitFor(() => seen.signal.length === 2, 'the signal aborted (HTTP/1.1)');
    assert.equal(seen.signal[1], String(Status.CANCELLED));
    await waitFor(() => server.activeCalls === 0, 'no call left');
  } finally {
    await closeSession(session);
    await served.close();
  }
});

/** The Echo service as @grpc/proto-loader loads it (from a temporary copy of ECHO_PROTO). */
function loadEchoClient(): typeof grpc.Client & { service: grpc.ServiceDefinition } {
  const dir = mkdtempSync(join(tmpdir(), 'call-paths-'));
  try {
    writeFileSync(join(dir, 'echo.proto'), ECHO_PROTO);
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync('echo.proto', { includeDirs: [dir] }));
    return (pkg['test'] as Record<string, unknown>)['Echo'] as typeof grpc.Client & { service: grpc.ServiceDefinition };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('grpc-js style handlers: an idle unary call hears the client cancel; stream writes under backpressure arrive intact', async () => {
  const Echo = loadEchoClient();
  const heard: { cancelled: boolean; peer: string; x: unknown }[] = [];
  const drains: number[] = [];
  const server = new GrpcServer();
  server.addService(Echo.service, {
    unary(call: grpc.ServerUnaryCall<EchoMsg, EchoMsg>, callback: grpc.sendUnaryData<EchoMsg>) {
      // Never answers on its own.
      call.on('cancelled', () => {
        heard.push({ cancelled: call.cancelled, peer: call.getPeer(), x: call.metadata.get('x-who')[0] });
        callback(null, {});
      });
    },
    serverStream(call: grpc.ServerWritableStream<EchoMsg, EchoMsg>) {
      const seed = call.request.n ?? 0;
      let i = 0;
      const more = (): void => {
        while (i < 40) {
          const ok = call.write({ n: i, data: pattern(seed, i, 8 * 1024) });
          i++;
          if (!ok) {
            drains.push(i);
            call.once('drain', more);
            return;
          }
        }
        call.end();
      };
      more();
    },
  } as grpc.UntypedServiceImplementation);
  const served = await serve(server);
  const client = new Echo(served.address, grpc.credentials.createInsecure(), { 'grpc.http2.lookahead_bytes': 0 } as grpc.ChannelOptions);
  try {
    const md = new grpc.Metadata();
    md.set('x-who', 'me');
    const call = (client as unknown as Record<string, (...a: unknown[]) => grpc.ClientUnaryCall>)['unary']!({ text: 'idle' }, md, (err: grpc.ServiceError | null) => {
      assert.equal(err?.code, grpc.status.CANCELLED);
    });
    await waitFor(() => server.activeCalls === 1, 'the unary call started');
    await new Promise((r) => setTimeout(r, 20));
    call.cancel();
    await waitFor(() => heard.length === 1, 'the handler heard the cancel');
    assert.equal(heard[0]!.cancelled, true);
    assert.match(heard[0]!.peer, /^127\.0\.0\.1:\d+$/);
    assert.equal(heard[0]!.x, 'me');
    await waitFor(() => server.activeCalls === 0, 'the call ended');

    const results = await Promise.all(
      [1, 2, 3].map(
        (seed) =>
          new Promise<EchoMsg[]>((resolve, reject) => {
            const got: EchoMsg[] = [];
            const s = (client as unknown as Record<string, (...a: unknown[]) => grpc.ClientReadableStream<EchoMsg>>)['serverStream']!({ n: seed });
            s.on('data', (m: EchoMsg) => got.push(m));
            s.on('error', reject);
            s.on('end', () => resolve(got));
          }),
      ),
    );
    for (const [k, got] of results.entries()) {
      assert.equal(got.length, 40);
      for (const [i, m] of got.entries()) {
        assert.equal(m.n ?? 0, i);
        assert.ok(Buffer.from(m.data!).equals(pattern(k + 1, i, 8 * 1024)), `stream ${k + 1} message ${i}`);
      }
    }
  } finally {
    client.close();
    await served.close();
  }
});

/** A piece of a request body: a good message, an empty one, bytes that do not parse, a compressed one, or a broken header. */
type Piece =
  | { kind: 'msg'; n: number }
  | { kind: 'empty' }
  | { kind: 'garbage' }
  | { kind: 'gzip'; n: number }
  | { kind: 'badflag' }
  | { kind: 'huge' };

function pieceBytes(p: Piece): Uint8Array {
  switch (p.kind) {
    case 'msg':
      return msg({ text: `m${p.n}`, n: p.n, data: pattern(p.n, 0, p.n * 37) });
    case 'empty':
      return Uint8Array.of(0, 0, 0, 0, 0);
    case 'garbage':
      return encodeFrame(Uint8Array.of(0x0f, 0xff));
    case 'gzip':
      return encodeFrame(gzipSync(Msg.encode(Msg.fromObject({ text: `z${p.n}`, n: p.n })).finish()), true);
    case 'badflag':
      return Uint8Array.of(3, 0, 0, 0, 1, 0);
    case 'huge':
      return Uint8Array.of(0, 0, 1, 0, 1, 0);
  }
}

/** What a single-message call must answer for a body made of `pieces`, cut anywhere. */
function expectedSingle(pieces: readonly Piece[], truncated: boolean, gzip: boolean): { status: Status; text?: string } {
  for (const p of pieces) {
    if (p.kind === 'badflag') return { status: Status.INTERNAL };
    if (p.kind === 'huge') return { status: Status.RESOURCE_EXHAUSTED };
  }
  if (truncated || pieces.length !== 1) return { status: Status.INTERNAL };
  const p = pieces[0]!;
  switch (p.kind) {
    case 'msg':
      return { status: Status.OK, text: `m${p.n}` };
    case 'empty':
      return { status: Status.OK, text: '' };
    case 'gzip':
      return gzip ? { status: Status.OK, text: `z${p.n}` } : { status: Status.INTERNAL };
    default:
      return { status: Status.INTERNAL };
  }
}

test('fuzz: single-message calls answer what the frames say, however the body is cut into chunks', async () => {
  const server = new GrpcServer({ maxReceiveMessageLength: 60 * 1024 });
  server.addService(EchoService, {
    Unary: (req: EchoMsg) => {
      if (req.text?.startsWith('m') === true) assert.ok(Buffer.from(req.data ?? []).equals(pattern(req.n!, 0, req.n! * 37)));
      return { text: req.text ?? '' };
    },
    ServerStream: async function* (req: EchoMsg) {
      yield { text: req.text ?? '' };
    },
  });
  const served = await serve(server);
  const session = await connect(served.port);
  const piece = fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('msg' as const), n: fc.integer({ min: 0, max: 60 }) }), weight: 6 },
    { arbitrary: fc.constant({ kind: 'empty' as const }), weight: 2 },
    { arbitrary: fc.constant({ kind: 'garbage' as const }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('gzip' as const), n: fc.integer({ min: 0, max: 9 }) }), weight: 2 },
    { arbitrary: fc.constant({ kind: 'badflag' as const }), weight: 1 },
    { arbitrary: fc.constant({ kind: 'huge' as const }), weight: 1 },
  );
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { minLength: 0, maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.nat(),
        fc.boolean(),
        fc.constantFrom('/test.Echo/Unary', '/test.Echo/ServerStream'),
        async (pieces, cuts, cutTail, gzip, path) => {
          let wire: Uint8Array = Buffer.concat(pieces.map(pieceBytes));
          // Sometimes drop the tail of the last frame.
          const truncated = pieces.length > 0 && cutTail % 4 === 0 && pieces[pieces.length - 1]!.kind !== 'huge' && pieces[pieces.length - 1]!.kind !== 'badflag';
          if (truncated) wire = wire.subarray(0, wire.byteLength - 1 - (cutTail % 3));
          const points = [...new Set(cuts.map((c) => (wire.byteLength === 0 ? 0 : c % (wire.byteLength + 1))))].sort((a, b) => a - b);
          const body: Uint8Array[] = [];
          let at = 0;
          for (const p of [...points, wire.byteLength]) {
            body.push(wire.subarray(at, p));
            at = p;
          }
          const r = await rawCall(session, path, { body, ...(gzip ? { headers: { 'grpc-encoding': 'gzip' } } : {}) });
          const want = expectedSingle(pieces, truncated, gzip);
          assert.equal(r.grpcStatus, want.status, `${JSON.stringify(pieces)} cut at ${points.join(',')}${truncated ? ' truncated' : ''}: ${r.grpcMessage ?? ''}`);
          if (want.text !== undefined) assert.deepEqual(decodeMsgs(r.frames).map((m) => m.text), [want.text]);
          else assert.equal(r.frames.length, 0);
        },
      ),
      { numRuns: 300 },
    );
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('shutdown with many running calls: calls that end while the server drains leave the list once, close() resolves when the last one goes', async () => {
  const release = new Map<number, () => void>();
  const server = new GrpcServer();
  server.addService(EchoService, {
    // Waits for the test or the signal; n odd never reads the signal.
    Unary: async (req: EchoMsg, ctx: CallContext) => {
      const n = req.n ?? 0;
      if (n % 2 === 0) {
        await new Promise<void>((resolve) => {
          release.set(n, resolve);
          ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        });
      } else await new Promise<void>((resolve) => release.set(n, resolve));
      return { n };
    },
    ServerStream: async function* (req: EchoMsg, ctx: CallContext) {
      yield { n: req.n ?? 0 };
      await new Promise<void>((resolve) => {
        release.set(req.n ?? 0, resolve);
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    },
  });
  const served = await serve(server);
  const session = await connect(served.port);
  try {
    const calls = Array.from({ length: 40 }, (_, n) =>
      rawCall(session, n % 4 === 3 ? '/test.Echo/ServerStream' : '/test.Echo/Unary', { body: [msg({ n })] }),
    );
    await waitFor(() => release.size === 40, 'every handler waiting');
    assert.equal(server.activeCalls, 40);
    let closed = false;
    const closing = server.close({ graceful: 60_000 }).then(() => (closed = true));
    // Calls at the ends, in the middle and next to each other finish on their own while the server drains.
    const own = [0, 39, 20, 21, 5, 38, 1];
    for (const n of own) release.get(n)!();
    await waitFor(() => server.activeCalls === 40 - own.length, 'the released calls left the list');
    const late = await rawCall(session, '/test.Echo/Unary', { body: [msg({ n: 100 })] });
    assert.equal(late.grpcStatus, Status.UNAVAILABLE);
    assert.equal(closed, false);
    // The client gives up on the rest; handlers that never look at their signal are released too.
    for (const [n, call] of calls.entries()) if (!own.includes(n)) call.stream.close(http2.constants.NGHTTP2_CANCEL);
    for (const [n, resolve] of release) if (!own.includes(n) && n % 2 === 1) resolve();
    await closing;
    assert.equal(server.activeCalls, 0);
    const results = await Promise.all(calls);
    for (const n of own) {
      assert.equal(results[n]!.grpcStatus, Status.OK, `call ${n}`);
      assert.equal(decodeMsgs(results[n]!.frames)[0]?.n ?? 0, n);
    }
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('grpc-js style server stream cancelled while writes wait: every write callback runs and the stream finishes', async () => {
  const Echo = loadEchoClient();
  const state = { writes: 0, callbacks: 0, cancelled: false, finished: false, waiting: 0 };
  const server = new GrpcServer();
  server.addService(Echo.service, {
    serverStream(call: grpc.ServerWritableStream<EchoMsg, EchoMsg>) {
      call.on('cancelled', () => {
        state.cancelled = true;
        call.end();
      });
      call.on('finish', () => (state.finished = true));
      const more = (): void => {
        while (!state.cancelled) {
          state.writes++;
          const ok = call.write({ n: state.writes, data: new Uint8Array(32 * 1024) }, () => state.callbacks++);
          if (!ok) {
            state.waiting++;
            call.once('drain', more);
            return;
          }
        }
      };
      more();
    },
  } as grpc.UntypedServiceImplementation);
  const served = await serve(server);
  const client = new Echo(served.address, grpc.credentials.createInsecure());
  try {
    const stream = (client as unknown as Record<string, (...a: unknown[]) => grpc.ClientReadableStream<EchoMsg>>)['serverStream']!({ n: 1 });
    stream.on('error', () => undefined);
    stream.pause();
    // The handler has filled the call's write buffer and waits for 'drain'.
    await waitFor(() => state.waiting > 0 && server.activeCalls === 1, 'the handler waits for room');
    stream.cancel();
    await waitFor(() => state.cancelled && server.activeCalls === 0, 'the call ended');
    await waitFor(() => state.callbacks === state.writes, `every write callback (${state.callbacks} of ${state.writes})`);
    await waitFor(() => state.finished, 'the stream finished');
  } finally {
    client.close();
    await served.close();
  }
});

test('grpc-js style server stream cancelled by the client: the call closes as on a grpc-js server', async () => {
  const Echo = loadEchoClient();
  const seen = new Map<string, string[]>();
  const implementation = {
    // Writes one message, then waits for nothing: it cleans up on 'close'.
    serverStream(call: grpc.ServerWritableStream<EchoMsg, EchoMsg>) {
      const events: string[] = [];
      seen.set(call.request.text ?? '', events);
      call.on('cancelled', () => events.push('cancelled'));
      call.on('close', () => events.push(`close:${String(call.cancelled)}`));
      call.write({ n: 1 });
    },
  } as grpc.UntypedServiceImplementation;
  const reference = new grpc.Server();
  reference.addService(Echo.service, implementation);
  const referencePort = await new Promise<number>((resolve, reject) =>
    reference.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))),
  );
  const server = new GrpcServer();
  server.addService(Echo.service, implementation);
  const served = await serve(server);
  const clients = [new Echo(`127.0.0.1:${referencePort}`, grpc.credentials.createInsecure()), new Echo(served.address, grpc.credentials.createInsecure())];
  try {
    for (const [i, client] of clients.entries()) {
      const name = i === 0 ? 'grpc-js' : 'httpsys-grpc';
      const stream = (client as unknown as Record<string, (...a: unknown[]) => grpc.ClientReadableStream<EchoMsg>>)['serverStream']!({ text: name });
      stream.on('error', () => undefined);
      await new Promise<void>((resolve) => stream.once('data', () => resolve()));
      stream.cancel();
      await waitFor(() => (seen.get(name) ?? []).some((e) => e.startsWith('close')), `${name}: the call closed`);
      assert.deepEqual(seen.get(name), ['cancelled', 'close:true'], name);
    }
    await waitFor(() => server.activeCalls === 0, 'no call left');
  } finally {
    for (const client of clients) client.close();
    reference.forceShutdown();
    await served.close();
  }
});

test('grpc-js style streaming handlers that throw: UNKNOWN without the error message, as on a grpc-js server', async () => {
  const Echo = loadEchoClient();
  const implementation = {
    serverStream() {
      throw new Error('secret detail of the server stream');
    },
    bidi() {
      throw new Error('secret detail of the bidi call');
    },
    // An error emitted on the call is the handler's answer: its message is sent.
    clientStream(call: grpc.ServerReadableStream<EchoMsg, EchoMsg>, callback: grpc.sendUnaryData<EchoMsg>) {
      callback(new Error('told to the client'));
    },
  } as grpc.UntypedServiceImplementation;
  const reference = new grpc.Server();
  reference.addService(Echo.service, implementation);
  const referencePort = await new Promise<number>((resolve, reject) =>
    reference.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))),
  );
  const logs: { level: string; message: string; detail: unknown }[] = [];
  const server = new GrpcServer({ logger: { warn: () => undefined, error: (message, detail) => logs.push({ level: 'error', message, detail }) } });
  server.addService(Echo.service, implementation);
  const served = await serve(server);
  const clients = [new Echo(`127.0.0.1:${referencePort}`, grpc.credentials.createInsecure()), new Echo(served.address, grpc.credentials.createInsecure())];
  const failure = (start: (done: (e: grpc.ServiceError) => void) => void): Promise<grpc.ServiceError> => new Promise((resolve) => start(resolve));
  try {
    for (const [i, client] of clients.entries()) {
      const name = i === 0 ? 'grpc-js' : 'httpsys-grpc';
      const methods = client as unknown as Record<string, (...a: unknown[]) => grpc.ClientReadableStream<EchoMsg> & grpc.ClientDuplexStream<EchoMsg, EchoMsg> & grpc.ClientWritableStream<EchoMsg>>;
      const ss = await failure((done) => methods['serverStream']!({}).on('error', done).on('data', () => undefined));
      const bidi = await failure((done) => {
        const s = methods['bidi']!();
        s.on('error', done).on('data', () => undefined);
        s.write({ n: 1 });
      });
      const cs = await failure((done) => methods['clientStream']!((e: grpc.ServiceError) => done(e)).end());
      for (const e of [ss, bidi]) {
        assert.equal(e.code, grpc.status.UNKNOWN, name);
        assert.doesNotMatch(e.details, /secret/, name);
      }
      assert.equal(cs.code, grpc.status.UNKNOWN, name);
      assert.equal(cs.details, 'told to the client', name);
    }
    assert.equal(logs.filter((l) => /secret/.test(String((l.detail as Error | undefined)?.message))).length, 2, 'the thrown errors are logged');
  } finally {
    for (const client of clients) client.close();
    reference.forceShutdown();
    await served.close();
  }
});

test('10,000 calls on one connection that follow their client stop following it when they end', async () => {
  const { createRequestQueue } = await import('../../src/transport/queue.js');
  const counts = { on: 0, off: 0, signal: 0 };
  const queue = await createRequestQueue({ urls: ['http://127.0.0.1:0/'], backend: 'node' });
  // Sees each request first and counts how the call follows it (own members over the request's methods).
  queue.serve((request) => {
    const on = request.onAbort;
    const off = request.offAbort;
    if (on === undefined || off === undefined) return undefined;
    Object.defineProperties(request, {
      onAbort: { value: (l: Parameters<typeof on>[0]) => (counts.on++, on.call(request, l)) },
      offAbort: { value: (l: Parameters<typeof off>[0]) => (counts.off++, off.call(request, l)) },
    });
    return undefined;
  });
  const server = new GrpcServer();
  server.addService(EchoService, {
    Unary: (req: EchoMsg, ctx: CallContext) => {
      if (ctx.signal.aborted) counts.signal++;
      return { n: req.n ?? 0 };
    },
    ServerStream: async function* (req: EchoMsg) {
      yield { n: req.n ?? 0 };
    },
    Bidi: async function* (requests: AsyncIterable<EchoMsg>) {
      for await (const r of requests) yield r;
    },
  });
  server.listen(queue);
  const port = Number(/:(\d+)\//.exec(queue.urls[0]!)![1]);
  const session = await connect(port);
  try {
    let calls = 0;
    for (let round = 0; round < 50; round++) {
      const batch = [];
      for (let k = 0; k < 200; k++, calls++) {
        const path = k % 10 === 0 ? '/test.Echo/ServerStream' : k % 10 === 1 ? '/test.Echo/Bidi' : '/test.Echo/Unary';
        batch.push(rawCall(session, path, { body: [msg({ n: calls })] }));
      }
      for (const r of await Promise.all(batch)) assert.equal(r.grpcStatus, Status.OK);
    }
    assert.equal(calls, 10_000);
    await waitFor(() => server.activeCalls === 0, 'every call ended');
    assert.equal(counts.signal, 0);
    assert.equal(counts.on, 10_000, 'every call followed its client');
    assert.equal(counts.off, counts.on, 'every call stopped following its client');
  } finally {
    await closeSession(session);
    await server.close({ graceful: 0 });
    await queue.close();
  }
});
