/**
 * What a call leaves behind and how its stream ends: thousands of calls
 * (completed, failed, cancelled by the client, cut by their deadline) release
 * every timer and listener; responses sent before the client finished its
 * request close the stream with RST_STREAM(NO_ERROR); immediate errors are
 * single header blocks; interceptors see how streaming calls end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { getEventListeners } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import { gzipSync, inflateSync } from 'node:zlib';
import { FrameDecoder, GrpcError, GrpcServer, Status, type CallContext, type CallOutcome, type Frame } from '../../src/grpc/index.js';
import { recordingLogger, serve, type Served } from '../interop/harness.js';
import { closeSession, connect, decodeMsgs, EchoService, Msg, msg, rawCall, waitFor, type EchoMsg, type RawResult } from './helpers.js';

const never = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));

function hygieneServer(signals: AbortSignal[], options: ConstructorParameters<typeof GrpcServer>[0] = {}): GrpcServer {
  const server = new GrpcServer(options);
  const track = (ctx: CallContext): void => {
    signals.push(ctx.request.signal);
  };
  server.addService(EchoService, {
    Unary: async (req: EchoMsg, ctx: CallContext) => {
      track(ctx);
      if (req.text === 'hang') await never(ctx.signal);
      if (req.text === 'fail') throw new GrpcError(Status.ABORTED, 'refused ☺');
      if (req.text === 'meta') {
        const reserved: string[] = [];
        for (const name of ['grpc-status', 'grpc-message', 'content-type']) {
          try {
            ctx.trailers.set(name, 'x');
          } catch {
            reserved.push(name);
          }
        }
        ctx.responseMetadata.set('x-reply-bin', Uint8Array.of(0xfb, 0xff));
        ctx.trailers.set('x-trailer-bin', Uint8Array.of(1));
        const seen = Object.fromEntries([...ctx.metadata.keys()].map((k) => [k, ctx.metadata.getAll(k).map((v) => (typeof v === 'string' ? v : [...v]))]));
        return { text: JSON.stringify({ seen, reserved }) };
      }
      return { n: req.n ?? 0 };
    },
    ServerStream: async function* (req: EchoMsg, ctx: CallContext) {
      track(ctx);
      for (let i = 0; i < (req.n ?? 0); i++) yield { n: i };
      if (req.text === 'hang') await never(ctx.signal);
      if (req.text === 'fail') throw new GrpcError(Status.DATA_LOSS, 'broken ☺ stream');
    },
    ClientStream: async (requests: AsyncIterable<EchoMsg>, ctx: CallContext) => {
      track(ctx);
      let n = 0;
      for await (const r of requests) {
        if (r.text === 'stop') return { n: -1 };
        if (r.text === 'fail') throw new GrpcError(Status.FAILED_PRECONDITION, 'stopped early');
        n += r.n ?? 0;
      }
      return { n };
    },
    Bidi: async function* (requests: AsyncIterable<EchoMsg>, ctx: CallContext) {
      track(ctx);
      for await (const r of requests) yield r;
    },
  });
  return server;
}

/**
 * Timers armed for the given delays while tracking is on and not yet cleared
 * or fired (unref'd ones included): the deadline timers of calls.
 */
function timerTracker(delays: readonly number[]): { live: () => number; stop: () => void } {
  const live = new Set<number>();
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (type === 'Timeout' && delays.includes((resource as { _idleTimeout?: number })._idleTimeout ?? -1)) live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  });
  hook.enable();
  return { live: () => live.size, stop: () => hook.disable() };
}

test('thousands of calls (ok, failed, client-cancelled, past their deadline) leave no call, timer or listener behind', async () => {
  const signals: AbortSignal[] = [];
  const outcomes = new Map<number, number>();
  const server = hygieneServer(signals, {
    interceptors: [
      async (_ctx, next) => {
        const o = await next();
        outcomes.set(o.code, (outcomes.get(o.code) ?? 0) + 1);
      },
    ],
  });
  const served = await serve(server);
  const session = await connect(served.port);
  // the 1H and 5S deadlines below; every call ends long before them
  const timers = timerTracker([3_600_000, 5_000]);
  let armed = 0;
  try {
    const kinds = 8;
    const rounds = 300; // 2400 calls
    const expected = new Map<number, number>();
    const expect = (code: Status): void => void expected.set(code, (expected.get(code) ?? 0) + 1);
    for (let round = 0; round < rounds; round++) {
      const calls: Promise<RawResult>[] = [];
      // plain unary, and one with a long deadline that must be disarmed
      calls.push(rawCall(session, '/test.Echo/Unary', { body: [msg({ n: 1 })] }));
      expect(Status.OK);
      calls.push(rawCall(session, '/test.Echo/Unary', { headers: { 'grpc-timeout': '1H' }, body: [msg({ n: 2 })] }));
      expect(Status.OK);
      // a handler error
      calls.push(rawCall(session, '/test.Echo/Unary', { headers: { 'grpc-timeout': '5S' }, body: [msg({ text: 'fail' })] }));
      expect(Status.ABORTED);
      // the deadline ends a hanging unary and a hanging server stream
      calls.push(rawCall(session, '/test.Echo/Unary', { headers: { 'grpc-timeout': '20m' }, body: [msg({ text: 'hang' })] }));
      expect(Status.DEADLINE_EXCEEDED);
      calls.push(rawCall(session, '/test.Echo/ServerStream', { headers: { 'grpc-timeout': '20m' }, body: [msg({ text: 'hang', n: 2 })] }));
      expect(Status.DEADLINE_EXCEEDED);
      // the client resets a hanging unary and an open bidi call
      const cancelUnary = rawCall(session, '/test.Echo/Unary', { headers: { 'grpc-timeout': '1H' }, body: [msg({ text: 'hang' })] });
      const cancelBidi = rawCall(session, '/test.Echo/Bidi', { body: [msg({ text: 'x' })], keepOpen: true });
      calls.push(cancelUnary, cancelBidi);
      expect(Status.CANCELLED);
      expect(Status.CANCELLED);
      // a client stream the server answers before the client finished
      calls.push(rawCall(session, '/test.Echo/ClientStream', { body: [msg({ n: 3 }), msg({ text: 'stop' })], keepOpen: true }));
      expect(Status.OK);
      assert.equal(calls.length, kinds);
      await waitFor(() => signals.length >= (round + 1) * kinds - 2, 'handlers started');
      cancelUnary.stream.close(http2.constants.NGHTTP2_CANCEL);
      cancelBidi.stream.close(http2.constants.NGHTTP2_CANCEL);
      if (round === 0) armed = timers.live();
      const results = await Promise.all(calls);
      for (const r of results.slice(0, 5)) assert.equal(r.status, 200);
    }
    await waitFor(() => server.activeCalls === 0, 'every call ended');
    await waitFor(() => [...outcomes.values()].reduce((a, b) => a + b, 0) === rounds * kinds, 'every outcome seen');
    assert.deepEqual(new Map([...outcomes].sort((a, b) => a[0] - b[0])), new Map([...expected].sort((a, b) => a[0] - b[0])));
    assert.equal(signals.length, rounds * kinds);
    for (const s of signals) assert.equal(getEventListeners(s, 'abort').length, 0, 'an abort listener outlived its call');
    assert.ok(armed > 0, 'the tracker sees deadline timers while calls run');
    // Deadline timers are cleared when their call ends (destroy hooks report it a little later).
    await waitFor(() => timers.live() === 0, 'deadline timers released');
  } finally {
    timers.stop();
    await closeSession(session);
    await served.close();
  }
});

test('a response sent before the client finished its request ends the stream with RST_STREAM(NO_ERROR)', async () => {
  const served = await serve(hygieneServer([]));
  const session = await connect(served.port);
  try {
    const check = (r: RawResult, where: string): void => {
      assert.equal(r.rstCode, http2.constants.NGHTTP2_NO_ERROR, where);
    };
    // full response (headers, message, trailers), and an error after headers
    const early = rawCall(session, '/test.Echo/ClientStream', { body: [msg({ n: 3 }), msg({ text: 'stop' })], keepOpen: true });
    const r1 = await early;
    assert.equal(r1.grpcStatus, Status.OK);
    assert.equal(r1.trailers['grpc-status'], '0');
    assert.equal(early.stream.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'the server reset the stream the client left open');
    check(r1, 'trailers');
    // Trailers-Only answers: a handler error and an unknown method
    const r2 = await rawCall(session, '/test.Echo/ClientStream', { body: [msg({ text: 'fail' })], keepOpen: true });
    assert.equal(r2.headers['grpc-status'], String(Status.FAILED_PRECONDITION));
    check(r2, 'Trailers-Only error');
    const r3 = await rawCall(session, '/test.Echo/Missing', { body: [msg({})], keepOpen: true });
    assert.equal(r3.headers['grpc-status'], String(Status.UNIMPLEMENTED));
    check(r3, 'unknown method');
    // the deadline ends a bidi call after a message went out, while the client still sends
    const r5 = await rawCall(session, '/test.Echo/Bidi', { headers: { 'grpc-timeout': '50m' }, body: [msg({ text: 'a' })], keepOpen: true });
    assert.equal(r5.frames.length, 1);
    assert.equal(r5.trailers['grpc-status'], String(Status.DEADLINE_EXCEEDED));
    check(r5, 'deadline');
    const r4 = await rawCall(session, '/test.Echo/Unary', { headers: { 'content-type': 'text/plain' }, body: [msg({})], keepOpen: true });
    assert.equal(r4.status, 415);
    check(r4, '415');
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('immediate errors are Trailers-Only: one header block with the status, no body, no trailers', async () => {
  const server = hygieneServer([]);
  const served = await serve(server);
  const session = await connect(served.port);
  try {
    const trailersOnly = (r: RawResult, code: Status, message?: RegExp): void => {
      assert.equal(r.status, 200);
      assert.match(String(r.headers['content-type']), /^application\/grpc/);
      assert.equal(r.headers['grpc-status'], String(code));
      if (message) assert.match(decodeURIComponent(String(r.headers['grpc-message'])), message);
      assert.equal(r.body.length, 0);
      assert.deepEqual(Object.keys(r.trailers), []);
    };
    trailersOnly(await rawCall(session, '/test.Echo/Missing', { body: [msg({})] }), Status.UNIMPLEMENTED, /Missing/);
    trailersOnly(await rawCall(session, '/no.Such/Thing', { body: [msg({})] }), Status.UNIMPLEMENTED, /no\.Such/);
    // paths are case-sensitive
    trailersOnly(await rawCall(session, '/test.echo/Unary', { body: [msg({})] }), Status.UNIMPLEMENTED, /test\.echo/);
    trailersOnly(await rawCall(session, '/test.Echo/unary', { body: [msg({})] }), Status.UNIMPLEMENTED, /unary/);
    trailersOnly(await rawCall(session, '/test.Echo/Unary', { headers: { 'grpc-encoding': 'zstd' }, body: [msg({})] }), Status.UNIMPLEMENTED);
    trailersOnly(await rawCall(session, '/test.Echo/Unary', { headers: { 'grpc-timeout': '1x' }, body: [msg({})] }), Status.INTERNAL);
    trailersOnly(await rawCall(session, '/test.Echo/Unary', { body: [msg({ text: 'fail' })] }), Status.ABORTED, /^refused ☺$/);

    // The 415 answer carries the status fields too, for gRPC clients.
    const wrong = await rawCall(session, '/test.Echo/Unary', { headers: { 'content-type': 'application/json' }, body: [Buffer.from('{}')] });
    assert.equal(wrong.status, 415);
    assert.equal(wrong.headers['grpc-status'], String(Status.INVALID_ARGUMENT));
    assert.match(decodeURIComponent(String(wrong.headers['grpc-message'])), /content-type "application\/json"/);

    const closing = server.close({ graceful: 0 });
    trailersOnly(await rawCall(session, '/test.Echo/Unary', { body: [msg({})] }), Status.UNAVAILABLE, /shutting down/);
    trailersOnly(await rawCall(session, '/test.Echo/Bidi', { body: [msg({})] }), Status.UNAVAILABLE);
    await closing;
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('interceptors see how streaming calls end: OK, a handler error, a client cancel, a deadline', async () => {
  const outcomes: [string, CallOutcome][] = [];
  const server = hygieneServer([], {
    interceptors: [
      async (ctx, next) => {
        const o = await next();
        outcomes.push([`${ctx.methodName}:${ctx.metadata.get('x-case') ?? ''}`, o]);
      },
    ],
  });
  const served = await serve(server);
  const session = await connect(served.port);
  try {
    await rawCall(session, '/test.Echo/ServerStream', { headers: { 'x-case': 'ok' }, body: [msg({ n: 3 })] });
    await rawCall(session, '/test.Echo/ClientStream', { headers: { 'x-case': 'fail' }, body: [msg({ n: 1 }), msg({ text: 'fail' })] });
    await rawCall(session, '/test.Echo/Bidi', { headers: { 'x-case': 'ok' }, body: [msg({ text: 'a' }), msg({ text: 'b' })] });
    await rawCall(session, '/test.Echo/ServerStream', { headers: { 'x-case': 'deadline', 'grpc-timeout': '30m' }, body: [msg({ text: 'hang', n: 1 })] });
    const bidi = rawCall(session, '/test.Echo/Bidi', { headers: { 'x-case': 'cancel' }, body: [msg({ text: 'a' })], keepOpen: true });
    await waitFor(() => server.activeCalls === 1, 'bidi call running');
    bidi.stream.close(http2.constants.NGHTTP2_CANCEL);
    await bidi;
    await waitFor(() => outcomes.length === 5, 'five outcomes');
    const byCase = new Map(outcomes.map(([k, o]) => [k, o.code]));
    assert.deepEqual(
      byCase,
      new Map([
        ['ServerStream:ok', Status.OK],
        ['ClientStream:fail', Status.FAILED_PRECONDITION],
        ['Bidi:ok', Status.OK],
        ['ServerStream:deadline', Status.DEADLINE_EXCEEDED],
        ['Bidi:cancel', Status.CANCELLED],
      ]),
    );
    assert.equal(outcomes.find(([k]) => k === 'ClientStream:fail')![1].message, 'stopped early');
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('onClose listeners run once when close() begins, before running calls drain', async () => {
  const logs: Served['logs'] = [];
  const server = hygieneServer([], { logger: recordingLogger(logs) });
  const served = await serve(server);
  const session = await connect(served.port);
  try {
    const events: string[] = [];
    server.onClose(() => events.push('first'));
    const removed = server.onClose(() => events.push('removed'));
    removed();
    server.onClose(() => {
      throw new Error('a failing listener does not stop the close');
    });
    let again: Promise<void> | undefined;
    server.onClose(() => {
      again = server.close();
    });
    const running = rawCall(session, '/test.Echo/Bidi', { body: [msg({ text: 'a' })], keepOpen: true });
    await waitFor(() => server.activeCalls === 1, 'call running');
    const closed = server.close({ graceful: 60_000 }).then(() => events.push('closed'));
    assert.deepEqual(events, ['first']);
    running.stream.end();
    assert.equal((await running).grpcStatus, Status.OK);
    await closed;
    assert.equal(again, server.close(), 'close() from a listener returns the same promise');
    await again;
    server.onClose(() => events.push('late'));
    await server.close();
    assert.deepEqual(events, ['first', 'closed', 'late']);
    assert.equal(logs.filter((l) => l.level === 'error' && /close listener/.test(l.message)).length, 1);
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('metadata end to end: -bin values padded or not, repeated or comma-joined; grpc-* neither visible nor settable', async () => {
  const served = await serve(hygieneServer([]));
  const session = await connect(served.port);
  try {
    // Two header lines, one holding two comma-joined values (padded and unpadded).
    const r = await rawCall(session, '/test.Echo/Unary', {
      headers: { 'grpc-timeout': '10S', 'grpc-accept-encoding': 'gzip', 'x-data-bin': ['AQI=, AwQ', 'BQ'], 'x-text': 'a b' },
      body: [msg({ text: 'meta' })],
    });
    assert.equal(r.trailers['grpc-status'], '0');
    const reply = Msg.decode(r.frames[0]!.payload) as unknown as EchoMsg;
    const { seen, reserved } = JSON.parse(reply.text ?? '') as { seen: Record<string, unknown>; reserved: string[] };
    assert.deepEqual(seen['x-data-bin'], [[1, 2], [3, 4], [5]]);
    assert.deepEqual(seen['x-text'], ['a b']);
    assert.deepEqual(Object.keys(seen).filter((k) => k.startsWith('grpc-') || k === 'te' || k === 'content-type'), []);
    assert.deepEqual(reserved, ['grpc-status', 'grpc-message', 'content-type']);
    // binary metadata goes out unpadded
    assert.equal(r.headers['x-reply-bin'], '+/8');
    assert.equal(r.trailers['x-trailer-bin'], 'AQ');
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('gRPC over HTTP/1.1: an error after messages goes in the chunked trailers, an immediate error in the headers', async () => {
  const served = await serve(hygieneServer([]));
  const call = (path: string, body: Uint8Array) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; trailers: NodeJS.Dict<string>; body: Buffer }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: served.port, method: 'POST', path, headers: { 'content-type': 'application/grpc', te: 'trailers' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body: Buffer.concat(chunks) }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  try {
    const failed = await call('/test.Echo/ServerStream', msg({ text: 'fail', n: 2 }));
    assert.equal(failed.status, 200);
    assert.equal(failed.headers['grpc-status'], undefined);
    assert.equal(failed.trailers['grpc-status'], String(Status.DATA_LOSS));
    assert.equal(failed.trailers['grpc-message'], 'broken %E2%98%BA stream');
    const frames: Frame[] = [];
    new FrameDecoder(1 << 20, (f) => frames.push(f)).push(failed.body);
    assert.deepEqual(decodeMsgs(frames).map((m) => m.n ?? 0), [0, 1], 'both messages before the status');
    const missing = await call('/test.Echo/Missing', msg({}));
    assert.equal(missing.status, 200);
    assert.equal(missing.headers['grpc-status'], String(Status.UNIMPLEMENTED));
    assert.equal(missing.body.length, 0);
  } finally {
    await served.close();
  }
});

test('response compression follows the server setting and each client grpc-accept-encoding; minBytes leaves small messages plain', async () => {
  const server = new GrpcServer({ compression: { send: 'deflate', accept: ['deflate'], minBytes: 100 } });
  server.addService(EchoService, {
    Unary: async (req: EchoMsg) => req,
    ServerStream: async function* (req: EchoMsg) {
      yield { text: 'small' };
      yield { data: new Uint8Array(req.n ?? 0) };
    },
  });
  const served = await serve(server);
  const session = await connect(served.port);
  try {
    const both = await rawCall(session, '/test.Echo/ServerStream', { headers: { 'grpc-accept-encoding': 'GZIP, deflate' }, body: [msg({ n: 500 })] });
    assert.equal(both.grpcStatus, Status.OK);
    assert.equal(both.headers['grpc-encoding'], 'deflate');
    assert.equal(both.headers['grpc-accept-encoding'], 'identity,deflate');
    assert.deepEqual(both.frames.map((f) => f.compressed), [false, true]);
    assert.equal((Msg.decode(inflateSync(both.frames[1]!.payload)) as unknown as EchoMsg).data?.length, 500);

    for (const accept of [undefined, 'gzip', 'identity']) {
      const plain = await rawCall(session, '/test.Echo/Unary', {
        headers: accept === undefined ? {} : { 'grpc-accept-encoding': accept },
        body: [msg({ data: new Uint8Array(500) })],
      });
      assert.equal(plain.grpcStatus, Status.OK);
      assert.equal(plain.headers['grpc-encoding'], undefined, String(accept));
      assert.deepEqual(plain.frames.map((f) => f.compressed), [false]);
    }

    // Request encodings outside `accept` are refused, naming the accepted ones.
    const gz = Buffer.from(gzipSync(Msg.encode({ text: 'x' }).finish()));
    const frame = Buffer.concat([Buffer.from([1, 0, 0, 0, 0]), gz]);
    frame.writeUInt32BE(gz.length, 1);
    const refused = await rawCall(session, '/test.Echo/Unary', { headers: { 'grpc-encoding': 'gzip' }, body: [frame] });
    assert.equal(refused.headers['grpc-status'], String(Status.UNIMPLEMENTED));
    assert.equal(refused.headers['grpc-accept-encoding'], 'identity,deflate');
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('maxSendMessageLength ends a stream with RESOURCE_EXHAUSTED after the messages that fit; maxReceiveMessageLength holds per message in a stream', async () => {
  const seen: number[] = [];
  const server = new GrpcServer({ maxSendMessageLength: 100, maxReceiveMessageLength: 100 });
  server.addService(EchoService, {
    ServerStream: async function* () {
      yield { data: new Uint8Array(50) };
      yield { data: new Uint8Array(200) };
      yield { data: new Uint8Array(10) };
    },
    ClientStream: async (requests: AsyncIterable<EchoMsg>) => {
      for await (const r of requests) seen.push(r.data?.length ?? 0);
      return {};
    },
  });
  const served = await serve(server);
  const session = await connect(served.port);
  try {
    const r = await rawCall(session, '/test.Echo/ServerStream', { body: [msg({})] });
    assert.equal(r.frames.length, 1);
    assert.equal(r.trailers['grpc-status'], String(Status.RESOURCE_EXHAUSTED));
    assert.match(String(r.trailers['grpc-message']), /larger than max/);
    const c = await rawCall(session, '/test.Echo/ClientStream', { body: [msg({ data: new Uint8Array(60) }), msg({ data: new Uint8Array(120) })] });
    assert.equal(c.grpcStatus, Status.RESOURCE_EXHAUSTED);
    assert.deepEqual(seen, [60]);
  } finally {
    await closeSession(session);
    await served.close();
  }
});
