/**
 * Call lifecycle through real clients: client cancel and reset reach the
 * handler's signal, shutdown refuses new calls while running ones drain,
 * interceptors see and short-circuit calls, and the HTTP/1.x paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { FrameDecoder, GrpcError, GrpcServer, Status, type CallContext, type CallOutcome, type Frame } from '../../src/grpc/index.js';
import { recordingLogger, serve, type Served } from '../interop/harness.js';
import { closeSession, connect, decodeMsgs, EchoService, msg, rawCall, waitFor, type EchoMsg } from './helpers.js';

interface Probe {
  started: number;
  reasons: unknown[];
  release: () => void;
}

function lifecycleServer(probe: Probe, options: ConstructorParameters<typeof GrpcServer>[0] = {}): GrpcServer {
  const server = new GrpcServer(options);
  const makeGate = () => {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  };
  let gate = makeGate();
  probe.release = () => {
    gate.resolve();
    gate = makeGate();
  };
  const hold = async (ctx: CallContext): Promise<void> => {
    probe.started++;
    ctx.signal.addEventListener('abort', () => probe.reasons.push(ctx.signal.reason), { once: true });
    await Promise.race([gate.promise, new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }))]);
  };
  server.addService(EchoService, {
    Unary: async (req: EchoMsg, ctx: CallContext) => {
      if (req.text === 'hold') await hold(ctx);
      return { text: req.text ?? '', n: req.n ?? 0 };
    },
    Bidi: async function* (requests: AsyncIterable<EchoMsg>, ctx: CallContext) {
      for await (const r of requests) {
        yield r;
        if (r.text === 'hold') await hold(ctx);
      }
    },
    ClientStream: async (requests: AsyncIterable<EchoMsg>, ctx: CallContext) => {
      let n = 0;
      for await (const r of requests) {
        n += r.n ?? 0;
        if (r.text === 'hold') await hold(ctx);
      }
      return { n };
    },
  });
  return server;
}

function newProbe(): Probe {
  return { started: 0, reasons: [], release: () => undefined };
}

const isCode = (code: Status) => (e: unknown) => e instanceof GrpcError && e.code === code;

test('client RST_STREAM mid-call aborts the handler signal with CANCELLED (bidi and client streaming)', async () => {
  const probe = newProbe();
  const served = await serve(lifecycleServer(probe));
  const session = await connect(served.port);
  try {
    const bidi = rawCall(session, '/test.Echo/Bidi', { body: [msg({ text: 'hold' })], keepOpen: true });
    await waitFor(() => probe.started === 1, 'bidi handler start');
    bidi.stream.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => probe.reasons.length === 1, 'bidi abort');
    assert.ok(isCode(Status.CANCELLED)(probe.reasons[0]));

    const cs = rawCall(session, '/test.Echo/ClientStream', { body: [msg({ text: 'hold', n: 1 })], keepOpen: true });
    await waitFor(() => probe.started === 2, 'client-stream handler start');
    cs.stream.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => probe.reasons.length === 2, 'client-stream abort');
    assert.ok(isCode(Status.CANCELLED)(probe.reasons[1]));
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('a client that disconnects aborts the handler signal', async () => {
  const probe = newProbe();
  const served = await serve(lifecycleServer(probe));
  const session = await connect(served.port);
  try {
    void rawCall(session, '/test.Echo/Unary', { body: [msg({ text: 'hold' })] });
    await waitFor(() => probe.started === 1, 'handler start');
    session.destroy();
    await waitFor(() => probe.reasons.length === 1, 'abort after disconnect');
    assert.ok(isCode(Status.CANCELLED)(probe.reasons[0]));
  } finally {
    await served.close();
  }
});

test('shutdown: new calls get UNAVAILABLE, a running call drains and completes, close() resolves', async () => {
  const probe = newProbe();
  const server = lifecycleServer(probe);
  const served = await serve(server);
  const session = await connect(served.port);
  try {
    const running = rawCall(session, '/test.Echo/Unary', { body: [msg({ text: 'hold', n: 1 })] });
    await waitFor(() => probe.started === 1, 'handler start');
    let closed = false;
    const closing = server.close({ graceful: 60_000 }).then(() => (closed = true));
    const refused = await rawCall(session, '/test.Echo/Unary', { body: [msg({ text: 'new' })] });
    assert.equal(refused.headers['grpc-status'], String(Status.UNAVAILABLE));
    assert.equal(closed, false);
    probe.release();
    const r = await running;
    assert.equal(r.grpcStatus, Status.OK);
    assert.equal(decodeMsgs(r.frames)[0]?.n, 1);
    await closing;
    assert.equal(probe.reasons.length, 0, 'a drained call is not cancelled');
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('shutdown: calls still running when the grace period ends are cancelled with UNAVAILABLE', async () => {
  const probe = newProbe();
  const server = lifecycleServer(probe);
  const served = await serve(server);
  const session = await connect(served.port);
  try {
    const running = rawCall(session, '/test.Echo/Unary', { body: [msg({ text: 'hold' })] });
    await waitFor(() => probe.started === 1, 'handler start');
    await server.close({ graceful: 0 });
    const r = await running;
    assert.equal(r.grpcStatus, Status.UNAVAILABLE);
    assert.ok(isCode(Status.UNAVAILABLE)(probe.reasons[0]));
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('interceptors: read metadata, short-circuit with a status, see every outcome in order', async () => {
  const seen: string[] = [];
  const outcomes: CallOutcome[] = [];
  const server = lifecycleServer(newProbe(), {
    interceptors: [
      async (ctx, next) => {
        seen.push(`outer:${ctx.methodName}`);
        const o = await next();
        outcomes.push(o);
        seen.push(`outer-done:${o.code}`);
      },
      async (ctx, next) => {
        if (ctx.metadata.get('authorization') !== 'Bearer ok') throw new GrpcError(Status.UNAUTHENTICATED, 'missing token');
        seen.push('inner');
        await next();
      },
    ],
  });
  const served = await serve(server);
  const session = await connect(served.port);
  try {
    const denied = await rawCall(session, '/test.Echo/Unary', { body: [msg({ text: 'x' })] });
    assert.equal(denied.headers['grpc-status'], String(Status.UNAUTHENTICATED));
    const ok = await rawCall(session, '/test.Echo/Unary', { headers: { authorization: 'Bearer ok' }, body: [msg({ text: 'y' })] });
    assert.equal(ok.grpcStatus, Status.OK);
    await waitFor(() => outcomes.length === 2, 'outcomes');
    assert.deepEqual(seen, ['outer:Unary', `outer-done:${Status.UNAUTHENTICATED}`, 'outer:Unary', 'inner', 'outer-done:0']);
    assert.equal(outcomes[0]!.message, 'missing token');
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('gRPC over HTTP/1.1: the status arrives in chunked trailers', async () => {
  const served = await serve(lifecycleServer(newProbe()));
  try {
    const r = await new Promise<{ status: number; trailers: NodeJS.Dict<string>; body: Buffer }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: served.port, method: 'POST', path: '/test.Echo/Unary', headers: { 'content-type': 'application/grpc', te: 'trailers' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, trailers: res.trailers, body: Buffer.concat(chunks) }));
        },
      );
      req.on('error', reject);
      req.end(msg({ text: 'h1', n: 11 }));
    });
    assert.equal(r.status, 200);
    assert.equal(r.trailers['grpc-status'], '0');
    assert.equal(r.body.readUInt32BE(1), r.body.length - 5);

    // a bidi call over HTTP/1.1: messages in the chunked body, status in the trailers
    const bidi = await new Promise<{ trailers: NodeJS.Dict<string>; body: Buffer }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: served.port, method: 'POST', path: '/test.Echo/Bidi', headers: { 'content-type': 'application/grpc', te: 'trailers' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ trailers: res.trailers, body: Buffer.concat(chunks) }));
        },
      );
      req.on('error', reject);
      req.write(msg({ text: 'a' }));
      req.end(msg({ text: 'b' }));
    });
    assert.equal(bidi.trailers['grpc-status'], '0');
    const frames: Frame[] = [];
    new FrameDecoder(1 << 20, (f) => frames.push(f)).push(bidi.body);
    assert.deepEqual(decodeMsgs(frames).map((m) => m.text), ['a', 'b']);
  } finally {
    await served.close();
  }
});

test('without trailers (HTTP/1.0) a native gRPC call is refused with a status pointing to gRPC-Web, logged once', async () => {
  const logs: Served['logs'] = [];
  const server = lifecycleServer(newProbe(), { logger: recordingLogger(logs) });
  const served = await serve(server, logs);
  try {
    const ask = () =>
      new Promise<string>((resolve, reject) => {
        const body = msg({ text: 'old' });
        const sock = net.connect(served.port, '127.0.0.1', () => {
          sock.write(
            `POST /test.Echo/Unary HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/grpc\r\nContent-Length: ${body.length}\r\n\r\n`,
          );
          sock.end(body);
        });
        let text = '';
        sock.on('data', (c) => (text += c.toString('latin1')));
        sock.on('end', () => resolve(text));
        sock.on('error', reject);
      });
    for (let i = 0; i < 2; i++) {
      const text = await ask();
      assert.match(text, /^HTTP\/1\.[01] 200/);
      assert.match(text, /grpc-status: 12\r\n/i);
      assert.match(text, /grpc-message: [^\r]*gRPC-Web/i);
    }
    assert.equal(logs.filter((l) => l.level === 'warn' && /gRPC-Web/.test(l.message)).length, 1);
  } finally {
    await served.close();
  }
});

test('two servers share one queue by path with passUnknownMethods; grpc-js reaches both', async () => {
  const first = new GrpcServer({ passUnknownMethods: true });
  first.registerMethod({
    path: '/one.One/Call',
    requestStream: false,
    responseStream: false,
    deserialize: (b) => Buffer.from(b).toString(),
    serialize: (s: string) => Buffer.from(s),
    handler: async (req: string) => `one:${req}`,
  });
  const second = lifecycleServer(newProbe());
  const served = await serve(first);
  second.listen(served.queue);
  const client = new grpc.Client(served.address, grpc.credentials.createInsecure());
  const call = (path: string, serialize: (x: string) => Buffer, deserialize: (b: Buffer) => string, value: string) =>
    new Promise<string>((resolve, reject) =>
      client.makeUnaryRequest(path, serialize, deserialize, value, (e, r) => (e ? reject(e) : resolve(r!))),
    );
  try {
    assert.equal(await call('/one.One/Call', (s) => Buffer.from(s), (b) => b.toString(), 'x'), 'one:x');
    const echoed = await call('/test.Echo/Unary', () => Buffer.from(msg({ text: 'two' }).subarray(5)), (b) => decodeMsgs([{ compressed: false, payload: b }])[0]!.text!, '');
    assert.equal(echoed, 'two');
    await assert.rejects(call('/none.None/X', (s) => Buffer.from(s), (b) => b.toString(), ''), (e: grpc.ServiceError) => e.code === grpc.status.UNIMPLEMENTED);
    assert.deepEqual(first.services().map((s) => [s.name, s.methods]), [['one.One', ['Call']]]);
  } finally {
    client.close();
    await second.close();
    await served.close();
  }
});

test("a request stream past the queue's body limit ends with RESOURCE_EXHAUSTED and the server keeps serving", async () => {
  const served = await serve(lifecycleServer(newProbe()), [], 1000);
  const session = await connect(served.port);
  try {
    const pieces = Array.from({ length: 10 }, () => msg({ n: 1, data: new Uint8Array(300) }));
    const r = await rawCall(session, '/test.Echo/ClientStream', { body: pieces });
    assert.equal(r.grpcStatus, Status.RESOURCE_EXHAUSTED);
    assert.match(String(r.grpcMessage), /maxRequestBodyBytes/);
    const ok = await rawCall(session, '/test.Echo/ClientStream', { body: [msg({ n: 4 })] });
    assert.equal(ok.grpcStatus, Status.OK);
    assert.equal(decodeMsgs(ok.frames)[0]?.n, 4);
  } finally {
    await closeSession(session);
    await served.close();
  }
});

test('a client that stops reading and resets releases a never-ending server stream (its finally runs)', async () => {
  let released = 0;
  let yielded = 0;
  const server = new GrpcServer();
  server.addService(EchoService, {
    ServerStream: async function* () {
      try {
        for (;;) {
          yielded++;
          yield { data: new Uint8Array(16 * 1024) };
        }
      } finally {
        released++;
      }
    },
  });
  const served = await serve(server);
  const session = await connect(served.port);
  try {
    const call = rawCall(session, '/test.Echo/ServerStream', { body: [msg({})] });
    call.stream.pause(); // flow control fills up; the server must wait, not buffer without end
    await waitFor(() => yielded > 2, 'stream started');
    await new Promise((r) => setTimeout(r, 100));
    const stalledAt = yielded;
    assert.ok(stalledAt < 2000, `the producer waits for the reader (${stalledAt} messages produced)`);
    call.stream.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => released === 1, 'generator released');
  } finally {
    await closeSession(session);
    await served.close();
  }
});
