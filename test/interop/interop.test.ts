/**
 * The gRPC interop cases (grpc doc/interop-test-descriptions.md), client side
 * played by @grpc/grpc-js against this package's server on the portable backend.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Status, type CallOutcome } from '../../src/grpc/index.js';
import { createInteropServer, INTEROP_PROTO_DIR, TEST_PROTO } from './test-service.js';
import { serve, type Served } from './harness.js';

type Msg = Record<string, unknown>;
type UnaryFn = (req: Msg, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Msg) => void) => grpc.ClientUnaryCall;
interface TestClient extends grpc.Client {
  EmptyCall: UnaryFn;
  UnaryCall: UnaryFn;
  UnimplementedCall: UnaryFn;
  StreamingOutputCall(req: Msg, md?: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientReadableStream<Msg>;
  StreamingInputCall(md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Msg) => void): grpc.ClientWritableStream<Msg>;
  FullDuplexCall(md?: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientDuplexStream<Msg, Msg>;
}
type ClientCtor = new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ClientOptions) => TestClient;

const definition = protoLoader.loadSync(TEST_PROTO, { includeDirs: [INTEROP_PROTO_DIR], defaults: true });
const pkg = grpc.loadPackageDefinition(definition) as unknown as {
  grpc: { testing: { TestService: ClientCtor; UnimplementedService: ClientCtor } };
};

function unary(client: TestClient, method: 'EmptyCall' | 'UnaryCall' | 'UnimplementedCall', req: Msg, md = new grpc.Metadata(), opts: grpc.CallOptions = {}) {
  return new Promise<{ response?: Msg; error?: grpc.ServiceError; headers?: grpc.Metadata; trailers?: grpc.Metadata }>((resolve) => {
    let headers: grpc.Metadata | undefined;
    let trailers: grpc.Metadata | undefined;
    const call = client[method](req, md, opts, (error, response) => {
      // the status event fires after the callback; wait a turn for it
      setImmediate(() => resolve({ ...(error ? { error } : {}), ...(response ? { response } : {}), ...(headers ? { headers } : {}), ...(trailers ? { trailers } : {}) }));
    });
    call.on('metadata', (m) => (headers = m));
    call.on('status', (s) => (trailers = s.metadata));
  });
}

function bodyLength(m: Msg | undefined): number {
  const p = m?.payload as { body?: Uint8Array } | undefined;
  return p?.body?.byteLength ?? -1;
}

function zeros(n: number): Msg {
  return { body: Buffer.alloc(n) };
}

function readAll(stream: grpc.ClientReadableStream<Msg> | grpc.ClientDuplexStream<Msg, Msg>) {
  return new Promise<{ messages: Msg[]; status: grpc.StatusObject; error?: grpc.ServiceError }>((resolve) => {
    const messages: Msg[] = [];
    let error: grpc.ServiceError | undefined;
    stream.on('data', (m: Msg) => messages.push(m));
    stream.on('error', (e: grpc.ServiceError) => (error = e));
    stream.on('status', (status: grpc.StatusObject) => setImmediate(() => resolve({ messages, status, ...(error ? { error } : {}) })));
  });
}

const SPECIAL = '\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n';

describe('interop: @grpc/grpc-js client against GrpcServer on the portable backend', () => {
  let served: Served;
  let client: TestClient;
  let gzipClient: TestClient;
  const outcomes: { method: string; outcome: CallOutcome }[] = [];
  const started: string[] = [];

  before(async () => {
    const server = createInteropServer({
      interceptors: [
        async (ctx, next) => {
          started.push(ctx.method);
          const outcome = await next();
          outcomes.push({ method: ctx.method, outcome });
        },
      ],
    });
    served = await serve(server);
    client = new pkg.grpc.testing.TestService(served.address, grpc.credentials.createInsecure());
    gzipClient = new pkg.grpc.testing.TestService(served.address, grpc.credentials.createInsecure(), {
      'grpc.default_compression_algorithm': 2,
    });
  });

  after(async () => {
    client.close();
    gzipClient.close();
    await served.close();
  });

  test('empty_unary', async () => {
    const r = await unary(client, 'EmptyCall', {});
    assert.equal(r.error, undefined);
    assert.deepEqual(r.response, {});
  });

  test('large_unary', async () => {
    const r = await unary(client, 'UnaryCall', { responseSize: 314159, payload: zeros(271828) });
    assert.equal(r.error, undefined);
    assert.equal(bodyLength(r.response), 314159);
    assert.ok((r.response!.payload as { body: Buffer }).body.every((b) => b === 0));
  });

  test('client_streaming', async () => {
    const result = await new Promise<Msg>((resolve, reject) => {
      const call = client.StreamingInputCall(new grpc.Metadata(), {}, (e, r) => (e ? reject(e) : resolve(r!)));
      for (const n of [27182, 8, 1828, 45904]) call.write({ payload: zeros(n) });
      call.end();
    });
    assert.equal(result.aggregatedPayloadSize, 74922);
  });

  test('server_streaming', async () => {
    const sizes = [31415, 9, 2653, 58979];
    const r = await readAll(client.StreamingOutputCall({ responseParameters: sizes.map((size) => ({ size })) }));
    assert.equal(r.status.code, grpc.status.OK);
    assert.deepEqual(r.messages.map(bodyLength), sizes);
  });

  test('ping_pong', async () => {
    const call = client.FullDuplexCall();
    const done = readAll(call);
    const got: number[] = [];
    const requests = [27182, 8, 1828, 45904];
    const responses = [31415, 9, 2653, 58979];
    const next = () => new Promise<Msg>((resolve) => call.once('data', resolve));
    for (let i = 0; i < 4; i++) {
      const waiting = next();
      call.write({ responseParameters: [{ size: responses[i] }], payload: zeros(requests[i]!) });
      got.push(bodyLength(await waiting));
    }
    call.end();
    const r = await done;
    assert.equal(r.status.code, grpc.status.OK);
    assert.deepEqual(got, responses);
  });

  test('empty_stream', async () => {
    const call = client.FullDuplexCall();
    const done = readAll(call);
    call.end();
    const r = await done;
    assert.equal(r.status.code, grpc.status.OK);
    assert.equal(r.messages.length, 0);
  });

  test('custom_metadata: unary and full duplex echo initial and trailing metadata', async () => {
    const md = new grpc.Metadata();
    md.set('x-grpc-test-echo-initial', 'test_initial_metadata_value');
    md.set('x-grpc-test-echo-trailing-bin', Buffer.from([0xab, 0xab, 0xab]));
    const r = await unary(client, 'UnaryCall', { responseSize: 314159, payload: zeros(271828) }, md);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.headers?.get('x-grpc-test-echo-initial'), ['test_initial_metadata_value']);
    assert.deepEqual(r.trailers?.get('x-grpc-test-echo-trailing-bin'), [Buffer.from([0xab, 0xab, 0xab])]);

    const call = client.FullDuplexCall(md);
    let headers: grpc.Metadata | undefined;
    call.on('metadata', (m) => (headers = m));
    const done = readAll(call);
    call.write({ responseParameters: [{ size: 314159 }], payload: zeros(271828) });
    call.end();
    const s = await done;
    assert.equal(s.status.code, grpc.status.OK);
    assert.deepEqual(s.messages.map(bodyLength), [314159]);
    assert.deepEqual(headers?.get('x-grpc-test-echo-initial'), ['test_initial_metadata_value']);
    assert.deepEqual(s.status.metadata.get('x-grpc-test-echo-trailing-bin'), [Buffer.from([0xab, 0xab, 0xab])]);
  });

  test('status_code_and_message: unary and full duplex', async () => {
    const r = await unary(client, 'UnaryCall', { responseStatus: { code: 2, message: 'test status message' } });
    assert.equal(r.error?.code, 2);
    assert.equal(r.error?.details, 'test status message');

    const call = client.FullDuplexCall();
    const done = readAll(call);
    call.write({ responseStatus: { code: 2, message: 'test status message' } });
    call.end();
    const s = await done;
    assert.equal(s.status.code, 2);
    assert.equal(s.status.details, 'test status message');
  });

  test('special_status_message', async () => {
    const r = await unary(client, 'UnaryCall', { responseStatus: { code: 2, message: SPECIAL } });
    assert.equal(r.error?.code, 2);
    assert.equal(r.error?.details, SPECIAL);
  });

  test('unimplemented_method: a method the service does not have, and one it declares without a handler', async () => {
    const r = await new Promise<grpc.ServiceError | null>((resolve) => {
      client.makeUnaryRequest('/grpc.testing.TestService/UnimplementedCall', (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (e) => resolve(e));
    });
    assert.equal(r?.code, grpc.status.UNIMPLEMENTED);
    const declared = await new Promise<grpc.ServiceError | null>((resolve) => {
      client.makeUnaryRequest('/grpc.testing.TestService/UnimplementedMethod', (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (e) => resolve(e));
    });
    assert.equal(declared?.code, grpc.status.UNIMPLEMENTED);
  });

  test('unimplemented_service', async () => {
    const other = new pkg.grpc.testing.UnimplementedService(served.address, grpc.credentials.createInsecure());
    try {
      const r = await unary(other, 'UnimplementedCall', {});
      assert.equal(r.error?.code, grpc.status.UNIMPLEMENTED);
    } finally {
      other.close();
    }
  });

  test('cancel_after_begin: the client cancels a client stream before sending; the server sees CANCELLED', async () => {
    const seen = started.length;
    const err = await new Promise<grpc.ServiceError | null>((resolve) => {
      const call = client.StreamingInputCall(new grpc.Metadata(), {}, (e) => resolve(e));
      // cancel once the server has the call, so both sides of the cancel are observed
      void waitFor(() => started.slice(seen).some((m) => m.endsWith('/StreamingInputCall'))).then(() => call.cancel());
    });
    assert.equal(err?.code, grpc.status.CANCELLED);
    // the server-side half (the handler's signal and outcome) is asserted in test/grpc/cancel.test.ts
    await waitFor(() => outcomes.some((o) => o.method.endsWith('/StreamingInputCall')));
  });

  test('cancel_after_first_response', async () => {
    const call = client.FullDuplexCall();
    const done = readAll(call);
    const first = new Promise<Msg>((resolve) => call.once('data', resolve));
    call.write({ responseParameters: [{ size: 31415 }], payload: zeros(27182) });
    assert.equal(bodyLength(await first), 31415);
    const before = outcomes.length;
    call.cancel();
    const r = await done;
    assert.equal(r.status.code, grpc.status.CANCELLED);
    await waitFor(() => outcomes.slice(before).some((o) => o.method.endsWith('/FullDuplexCall') && o.outcome.code === Status.CANCELLED));
  });

  test('timeout_on_sleeping_server', async () => {
    const call = client.FullDuplexCall(new grpc.Metadata(), { deadline: Date.now() + 1 });
    const done = readAll(call);
    call.write({ payload: zeros(27182) });
    const r = await done;
    assert.equal(r.status.code, grpc.status.DEADLINE_EXCEEDED);
  });

  test('client_compressed_unary: probe without compression is refused, compressed and plain calls pass', async () => {
    const probe = await unary(client, 'UnaryCall', { expectCompressed: { value: true }, responseSize: 314159, payload: zeros(271828) });
    assert.equal(probe.error?.code, grpc.status.INVALID_ARGUMENT);
    const compressed = await unary(gzipClient, 'UnaryCall', { expectCompressed: { value: true }, responseSize: 314159, payload: zeros(271828) });
    assert.equal(compressed.error, undefined);
    assert.equal(bodyLength(compressed.response), 314159);
    const plain = await unary(client, 'UnaryCall', { expectCompressed: { value: false }, responseSize: 314159, payload: zeros(271828) });
    assert.equal(plain.error, undefined);
    assert.equal(bodyLength(plain.response), 314159);
  });

  test('server_compressed_unary', async () => {
    for (const value of [true, false]) {
      const r = await unary(client, 'UnaryCall', { responseCompressed: { value }, responseSize: 314159, payload: zeros(271828) });
      assert.equal(r.error, undefined);
      assert.equal(bodyLength(r.response), 314159);
    }
  });

  test('client_compressed_streaming: first message compressed, second not', async () => {
    const probe = await new Promise<grpc.ServiceError | null>((resolve) => {
      const call = client.StreamingInputCall(new grpc.Metadata(), {}, (e) => resolve(e));
      call.write({ expectCompressed: { value: true }, payload: zeros(27182) });
      call.end();
    });
    assert.equal(probe?.code, grpc.status.INVALID_ARGUMENT);
    const result = await new Promise<Msg>((resolve, reject) => {
      const call = gzipClient.StreamingInputCall(new grpc.Metadata(), {}, (e, r) => (e ? reject(e) : resolve(r!)));
      call.write({ expectCompressed: { value: true }, payload: zeros(27182) });
      // write flag 2 = grpc-js WriteFlags.NoCompress
      call.write({ expectCompressed: { value: false }, payload: zeros(45904) }, 2 as unknown as BufferEncoding);
      call.end();
    });
    assert.equal(result.aggregatedPayloadSize, 73086);
  });

  test('server_compressed_streaming', async () => {
    const r = await readAll(
      client.StreamingOutputCall({
        responseParameters: [
          { compressed: { value: true }, size: 31415 },
          { compressed: { value: false }, size: 92653 },
        ],
      }),
    );
    assert.equal(r.status.code, grpc.status.OK);
    assert.deepEqual(r.messages.map(bodyLength), [31415, 92653]);
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), 'condition not reached');
}
