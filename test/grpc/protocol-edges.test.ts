/**
 * Protocol edge cases through a raw node:http2 client: every bad input gets the
 * right status (or HTTP error) and the server keeps serving.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { decodeGrpcMessage, encodeFrame, GrpcError, GrpcServer, Metadata, Status, type CallContext } from '../../src/grpc/index.js';
import { recordingLogger, serve, type Served } from '../interop/harness.js';
import { closeSession, connect, decodeMsgs, EchoService, Msg, msg, rawCall, type EchoMsg } from './helpers.js';

const waitReasons: unknown[] = [];

function echoServer(logs: Served['logs']): GrpcServer {
  const server = new GrpcServer({ maxSendMessageLength: 1 << 20, logger: recordingLogger(logs) });
  server.addService(EchoService, {
    Unary: async (req: EchoMsg, ctx: CallContext) => {
      switch (req.text) {
        case 'throw':
          throw new Error('secret internal detail');
        case 'details':
          throw new GrpcError(Status.NOT_FOUND, 'gone ☺', { details: Uint8Array.of(8, 5), metadata: new Metadata({ 'x-why': 'because' }) });
        case 'big':
          return { data: new Uint8Array(req.n ?? 0) };
        case 'wait':
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
          waitReasons.push(ctx.signal.reason);
          return {};
        case 'gzip':
          ctx.responseEncoding = 'gzip';
          break;
        case 'headers-first':
          ctx.responseMetadata.set('x-early', 'yes');
          ctx.sendHeaders();
          await new Promise((r) => setTimeout(r, 20));
          break;
      }
      ctx.responseMetadata.set('x-peer-known', String(ctx.peer.startsWith('127.0.0.1:')));
      ctx.trailers.set('x-trailer', 'yes');
      return { text: req.text ?? '', data: req.data ?? new Uint8Array(0), n: req.n ?? 0 };
    },
    ServerStream: async function* (req: EchoMsg) {
      for (let i = 0; i < (req.n ?? 0); i++) yield { n: i };
    },
    ClientStream: async (requests: AsyncIterable<EchoMsg>) => {
      let n = 0;
      for await (const r of requests) n += r.n ?? 0;
      return { n };
    },
    Bidi: async function* (requests: AsyncIterable<EchoMsg>) {
      for await (const r of requests) yield r;
    },
  });
  return server;
}

const UNARY = '/test.Echo/Unary';

describe('protocol edges over raw HTTP/2', () => {
  let served: Served;
  let session: http2.ClientHttp2Session;

  before(async () => {
    const logs: Served['logs'] = [];
    served = await serve(echoServer(logs), logs);
    session = await connect(served.port);
  });
  after(async () => {
    await closeSession(session);
    await served.close();
  });

  async function stillServing(): Promise<void> {
    const r = await rawCall(session, UNARY, { body: [msg({ text: 'ok', n: 7 })] });
    assert.equal(r.grpcStatus, Status.OK);
    assert.deepEqual(decodeMsgs(r.frames)[0]?.n, 7);
  }

  test('a good unary call: headers, one message, trailers with status and trailer metadata', async () => {
    const r = await rawCall(session, UNARY, { body: [msg({ text: 'hi', n: 3 })] });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.equal(r.headers['x-peer-known'], 'true');
    assert.equal(r.trailers['grpc-status'], '0');
    assert.equal(r.trailers['x-trailer'], 'yes');
    assert.deepEqual(decodeMsgs(r.frames).map((m) => [m.text, m.n]), [['hi', 3]]);
  });

  test('frames split byte by byte across DATA frames still decode', async () => {
    const wire = msg({ text: 'split', n: 9 });
    const r = await rawCall(session, UNARY, { body: [...wire].map((b) => Uint8Array.of(b)) });
    assert.equal(r.grpcStatus, Status.OK);
    assert.equal(decodeMsgs(r.frames)[0]?.text, 'split');
  });

  test('empty DATA pieces around the one message change nothing', async () => {
    const empty = new Uint8Array(0);
    for (const [n, body] of [
      [1, [msg({ text: 'e', n: 1 }), empty]],
      [2, [empty, msg({ text: 'e', n: 2 })]],
      [3, [empty, msg({ text: 'e', n: 3 }), empty]],
    ] as const) {
      const r = await rawCall(session, UNARY, { body: [...body] });
      assert.equal(r.grpcStatus, Status.OK);
      assert.equal(decodeMsgs(r.frames)[0]?.n, n);
    }
  });

  test('malformed frames: bad flag, truncated body, two messages, no message → INTERNAL (Trailers-Only)', async () => {
    const cases: Uint8Array[][] = [
      [Uint8Array.of(7, 0, 0, 0, 0)],
      [msg({ text: 'x' }).subarray(0, 4)],
      [msg({ text: 'a' }), msg({ text: 'b' })],
      [],
      [encodeFrame(Uint8Array.of(0xff, 0xff, 0xff))],
      // One chunk: two whole messages, or a whole message and the start of another.
      [Buffer.concat([msg({ text: 'a' }), msg({ text: 'b' })])],
      [Buffer.concat([msg({ text: 'a' }), msg({ text: 'b' }).subarray(0, 3)])],
      // A whole message, then a second one in the next chunk.
      [Buffer.concat([msg({ text: 'a' })]), msg({ text: 'b' })],
    ];
    for (const body of cases) {
      const r = await rawCall(session, UNARY, { body });
      assert.equal(r.status, 200);
      assert.equal(r.headers['grpc-status'], String(Status.INTERNAL), `Trailers-Only for ${body.length} pieces`);
      assert.equal(r.body.length, 0);
    }
    await stillServing();
  });

  test('bad grpc-timeout → INTERNAL; bad -bin metadata → INTERNAL; oversized metadata → RESOURCE_EXHAUSTED', async () => {
    for (const [headers, code] of [
      [{ 'grpc-timeout': 'soon' }, Status.INTERNAL],
      [{ 'grpc-timeout': '123456789S' }, Status.INTERNAL],
      [{ 'x-data-bin': '@@@' }, Status.INTERNAL],
      [{ 'x-huge': 'v'.repeat(10_000) }, Status.RESOURCE_EXHAUSTED],
    ] as const) {
      const r = await rawCall(session, UNARY, { headers, body: [msg({})] });
      assert.equal(r.headers['grpc-status'], String(code), JSON.stringify(headers).slice(0, 40));
      assert.ok(r.headers['grpc-message']);
    }
    await stillServing();
  });

  test('a message over 4 MiB → RESOURCE_EXHAUSTED, by declared length and by real bytes', async () => {
    const header = Uint8Array.of(0, 0, 0x50, 0, 0); // 5 MiB declared
    const r1 = await rawCall(session, UNARY, { body: [header], keepOpen: true });
    assert.equal(r1.headers['grpc-status'], String(Status.RESOURCE_EXHAUSTED));
    assert.match(decodeGrpcMessage(String(r1.headers['grpc-message'])), /5242880 vs\. 4194304/);
    const real = msg({ data: new Uint8Array(4 * 1024 * 1024 + 10) });
    const r2 = await rawCall(session, UNARY, { body: [real] });
    assert.equal(r2.headers['grpc-status'], String(Status.RESOURCE_EXHAUSTED));
    await stillServing();
  });

  test('a response over maxSendMessageLength → RESOURCE_EXHAUSTED', async () => {
    const r = await rawCall(session, UNARY, { body: [msg({ text: 'big', n: 2 << 20 })] });
    assert.equal(r.grpcStatus, Status.RESOURCE_EXHAUSTED);
    await stillServing();
  });

  test('a gzip bomb (64 KiB → 64 MiB) → RESOURCE_EXHAUSTED without inflating it', async () => {
    const inner = Msg.encode({ data: new Uint8Array(64 * 1024 * 1024) }).finish();
    const bomb = gzipSync(inner);
    const r = await rawCall(session, UNARY, { headers: { 'grpc-encoding': 'gzip' }, body: [encodeFrame(bomb, true)] });
    assert.equal(r.headers['grpc-status'], String(Status.RESOURCE_EXHAUSTED));
    await stillServing();
  });

  test('compressed requests; corrupt compression → INTERNAL; flag 1 without grpc-encoding → INTERNAL', async () => {
    const inner = Msg.encode({ text: 'zipped', n: 5 }).finish();
    const ok = await rawCall(session, UNARY, { headers: { 'grpc-encoding': 'gzip' }, body: [encodeFrame(gzipSync(inner), true)] });
    assert.equal(ok.grpcStatus, Status.OK);
    assert.equal(decodeMsgs(ok.frames)[0]?.text, 'zipped');
    const corrupt = await rawCall(session, UNARY, { headers: { 'grpc-encoding': 'deflate' }, body: [encodeFrame(Uint8Array.of(1, 2, 3), true)] });
    assert.equal(corrupt.headers['grpc-status'], String(Status.INTERNAL));
    const noEncoding = await rawCall(session, UNARY, { body: [encodeFrame(gzipSync(inner), true)] });
    assert.equal(noEncoding.headers['grpc-status'], String(Status.INTERNAL));
  });

  test('an unknown grpc-encoding → UNIMPLEMENTED naming what is supported', async () => {
    const r = await rawCall(session, UNARY, { headers: { 'grpc-encoding': 'br' }, body: [msg({})] });
    assert.equal(r.headers['grpc-status'], String(Status.UNIMPLEMENTED));
    assert.equal(r.headers['grpc-accept-encoding'], 'identity,gzip,deflate');
    await stillServing();
  });

  test('response compression: grpc-encoding gzip and compressed frames when the client accepts it', async () => {
    const r = await rawCall(session, UNARY, { headers: { 'grpc-accept-encoding': 'gzip' }, body: [msg({ text: 'gzip', data: new Uint8Array(1000) })] });
    assert.equal(r.grpcStatus, Status.OK);
    assert.equal(r.headers['grpc-encoding'], 'gzip');
    assert.equal(r.frames.length, 1);
    assert.equal(r.frames[0]!.compressed, true);
    const m = Msg.decode(gunzipSync(r.frames[0]!.payload)) as unknown as EchoMsg;
    assert.equal(m.text, 'gzip');
    const refused = await rawCall(session, UNARY, { body: [msg({ text: 'gzip' })] });
    assert.equal(refused.headers['grpc-encoding'], undefined, 'no compression when the client did not accept it');
    assert.equal(refused.frames[0]!.compressed, false);
  });

  test('wrong content type on a gRPC path → 415; grpc-web and other paths are left to other handlers (404)', async () => {
    const json = await rawCall(session, UNARY, { headers: { 'content-type': 'application/json' }, body: [Buffer.from('{}')] });
    assert.equal(json.status, 415);
    const web = await rawCall(session, UNARY, { headers: { 'content-type': 'application/grpc-web+proto' }, body: [msg({})] });
    assert.equal(web.status, 404);
    const elsewhere = await rawCall(session, '/not/grpc', { headers: { 'content-type': 'text/plain' } });
    assert.equal(elsewhere.status, 404);
    const plus = await rawCall(session, UNARY, { headers: { 'content-type': 'application/grpc+proto' }, body: [msg({ n: 1 })] });
    assert.equal(plus.grpcStatus, Status.OK);
    const json2 = await rawCall(session, UNARY, { headers: { 'content-type': 'application/grpc+json' }, body: [Buffer.from('{}')] });
    assert.equal(json2.headers['grpc-status'], String(Status.UNIMPLEMENTED));
  });

  test('unknown service and method → UNIMPLEMENTED (Trailers-Only)', async () => {
    const m = await rawCall(session, '/test.Echo/Nope', { body: [msg({})] });
    assert.equal(m.status, 200);
    assert.equal(m.headers['grpc-status'], String(Status.UNIMPLEMENTED));
    assert.match(decodeGrpcMessage(String(m.headers['grpc-message'])), /unknown method Nope in service test\.Echo/);
    const s = await rawCall(session, '/no.Such/Thing', { body: [msg({})] });
    assert.equal(s.headers['grpc-status'], String(Status.UNIMPLEMENTED));
  });

  test('a thrown Error → UNKNOWN without its message; a GrpcError keeps code, message, details and metadata', async () => {
    const r = await rawCall(session, UNARY, { body: [msg({ text: 'throw' })] });
    assert.equal(r.grpcStatus, Status.UNKNOWN);
    assert.doesNotMatch(String(r.grpcMessage), /secret/);
    assert.ok(served.logs.some((l) => l.level === 'error' && String((l.detail as Error)?.message).includes('secret')));
    const d = await rawCall(session, UNARY, { body: [msg({ text: 'details' })] });
    assert.equal(d.grpcStatus, Status.NOT_FOUND);
    assert.equal(d.grpcMessage, 'gone %E2%98%BA');
    assert.equal(d.headers['grpc-status-details-bin'], 'CAU');
    assert.equal(d.headers['x-why'], 'because');
  });

  test('deadline: grpc-timeout expires → DEADLINE_EXCEEDED and the handler signal aborts with that reason', async () => {
    waitReasons.length = 0;
    const r = await rawCall(session, UNARY, { headers: { 'grpc-timeout': '30m' }, body: [msg({ text: 'wait' })] });
    assert.equal(r.grpcStatus, Status.DEADLINE_EXCEEDED);
    assert.equal(waitReasons.length, 1);
    assert.ok(waitReasons[0] instanceof GrpcError && waitReasons[0].code === Status.DEADLINE_EXCEEDED);
    await stillServing();
  });

  test('the longest grpc-timeout (99999999H) does not overflow the timer: the call completes', async () => {
    const r = await rawCall(session, UNARY, { headers: { 'grpc-timeout': '99999999H' }, body: [msg({ text: 'far', n: 2 })] });
    assert.equal(r.grpcStatus, Status.OK);
    const zero = await rawCall(session, UNARY, { headers: { 'grpc-timeout': '0n' }, body: [msg({ text: 'wait' })] });
    assert.equal(zero.grpcStatus, Status.DEADLINE_EXCEEDED);
  });

  test('sendHeaders() sends response headers before the message', async () => {
    const call = rawCall(session, UNARY, { body: [msg({ text: 'headers-first' })] });
    const early = await new Promise<http2.IncomingHttpHeaders>((resolve) => call.stream.once('response', resolve));
    assert.equal(early['x-early'], 'yes');
    const r = await call;
    assert.equal(r.grpcStatus, Status.OK);
    assert.equal(r.trailers['x-trailer'], 'yes');
  });

  test('streaming: server, client and bidi calls over raw frames', async () => {
    const ss = await rawCall(session, '/test.Echo/ServerStream', { body: [msg({ n: 50 })] });
    assert.equal(ss.grpcStatus, Status.OK);
    assert.deepEqual(decodeMsgs(ss.frames).map((m) => m.n), [...Array(50).keys()]);
    const cs = await rawCall(session, '/test.Echo/ClientStream', { body: [msg({ n: 1 }), msg({ n: 2 }), Buffer.concat([msg({ n: 3 }), msg({ n: 4 })])] });
    assert.deepEqual(decodeMsgs(cs.frames).map((m) => m.n), [10]);
    const bidi = await rawCall(session, '/test.Echo/Bidi', { body: [msg({ text: 'a' }), msg({ text: 'b' })] });
    assert.deepEqual(decodeMsgs(bidi.frames).map((m) => m.text), ['a', 'b']);
    const empty = await rawCall(session, '/test.Echo/ServerStream', { body: [msg({ n: 0 })] });
    assert.equal(empty.headers['grpc-status'], '0', 'an empty stream is Trailers-Only OK');
    const badStream = await rawCall(session, '/test.Echo/Bidi', { body: [msg({ text: 'a' }), Uint8Array.of(9, 9)] });
    assert.equal(badStream.grpcStatus, Status.INTERNAL);
  });

  test('fuzz: arbitrary request bodies always end in a grpc-status and the server keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 4 }), fc.constantFrom(UNARY, '/test.Echo/Bidi', '/test.Echo/ClientStream'), async (body, path) => {
        const r = await rawCall(session, path, { body });
        assert.equal(r.status, 200);
        assert.ok(r.grpcStatus !== undefined && r.grpcStatus >= 0 && r.grpcStatus <= 16);
      }),
      { numRuns: 150 },
    );
    await stillServing();
  });

  test('fuzz: arbitrary grpc-timeout, grpc-encoding and metadata values always end in a grpc-status', async () => {
    const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 16 });
    await fc.assert(
      fc.asyncProperty(printable, printable, printable, fc.boolean(), async (timeout, bin, encoding, withEncoding) => {
        const headers: http2.OutgoingHttpHeaders = { 'grpc-timeout': timeout || '1S', 'x-fuzz-bin': bin || 'AA' };
        if (withEncoding) headers['grpc-encoding'] = encoding || 'x';
        const r = await rawCall(session, UNARY, { headers, body: [msg({ text: 'f' })] });
        assert.equal(r.status, 200);
        assert.ok(r.grpcStatus !== undefined && r.grpcStatus >= 0 && r.grpcStatus <= 16);
      }),
      { numRuns: 150 },
    );
    await stillServing();
  });
});
