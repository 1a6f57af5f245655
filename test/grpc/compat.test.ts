// A service written for a @grpc/grpc-js server runs unchanged through the
// compatibility adapter: the same implementation object is served by a real
// grpc-js Server and by GrpcServer on the portable backend, and the grpc-js
// client must see the same results from both.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createRequestQueue, GrpcServer, type RequestQueue } from '../../src/index.js';

const PROTO = `
syntax = "proto3";
package compat.test;

message EchoRequest {
  string message = 1;
  int32 count = 2;
}
message EchoReply {
  string message = 1;
  string seen_metadata = 2;
  bool has_deadline = 3;
  bool peer_is_set = 4;
  string path = 5;
}

service Echo {
  rpc UnaryEcho (EchoRequest) returns (EchoReply);
  rpc ServerStream (EchoRequest) returns (stream EchoReply);
  rpc ClientStream (stream EchoRequest) returns (EchoReply);
  rpc ClientStreamForAwait (stream EchoRequest) returns (EchoReply);
  rpc Bidi (stream EchoRequest) returns (stream EchoReply);
  rpc Endless (EchoRequest) returns (stream EchoReply);
  rpc NotImplemented (EchoRequest) returns (EchoReply);
}
`;

interface EchoRequest {
  message: string;
  count: number;
}
interface EchoReply {
  message?: string;
  seen_metadata?: string;
  has_deadline?: boolean;
  peer_is_set?: boolean;
  path?: string;
}

// Resolved when a server-side call sees its client cancel (keyed by request message).
const cancelled = new Map<string, () => void>();

/** Written the way grpc-js services are written; nothing here knows about GrpcServer. */
const implementation: grpc.UntypedServiceImplementation = {
  unaryEcho(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) {
    const initial = new grpc.Metadata();
    initial.set('x-initial', 'sent-early');
    call.sendMetadata(initial);
    const { message } = call.request;
    if (message === 'fail') {
      const md = new grpc.Metadata();
      md.set('x-error-info', 'from-handler');
      callback({ code: grpc.status.INVALID_ARGUMENT, details: 'bad input: fail', metadata: md });
      return;
    }
    if (message === 'rich') {
      // Rich error details ride in the status metadata, the way grpc-js services send them.
      const md = new grpc.Metadata();
      md.set('grpc-status-details-bin', Buffer.from([8, 5, 18, 3, 0x62, 0x61, 0x64]));
      md.set('x-error-info', 'rich');
      callback({ code: grpc.status.NOT_FOUND, details: 'missing ☺ thing', metadata: md });
      return;
    }
    if (message === 'plain-error') {
      callback(new Error('it broke'));
      return;
    }
    if (message === 'service-error') {
      const err = Object.assign(new Error('5 NOT_FOUND: no such thing'), { code: grpc.status.NOT_FOUND, details: 'no such thing' });
      callback(err);
      return;
    }
    const trailer = new grpc.Metadata();
    trailer.set('x-trailer', 'done');
    trailer.set('x-trailer-bin', Buffer.from([1, 2, 3, 250]));
    const seen = [call.metadata.get('x-custom')[0] ?? '', String(call.metadata.getMap()['x-custom'] ?? '')];
    const bin = call.metadata.get('x-data-bin')[0];
    if (Buffer.isBuffer(bin)) seen.push(bin.toString('hex'));
    callback(
      null,
      {
        message: `echo: ${message}`,
        seen_metadata: seen.join('|'),
        has_deadline: call.getDeadline() instanceof Date || (typeof call.getDeadline() === 'number' && call.getDeadline() !== Infinity),
        peer_is_set: /:\d+$/.test(call.getPeer()),
        path: call.getPath(),
      },
      trailer,
    );
  },

  serverStream(call: grpc.ServerWritableStream<EchoRequest, EchoReply>) {
    const { message, count } = call.request;
    for (let i = 0; i < count; i++) call.write({ message: `${message} #${i}` });
    if (message === 'fail') {
      call.emit('error', { code: grpc.status.FAILED_PRECONDITION, details: 'stream failed after writes' });
      return;
    }
    const trailer = new grpc.Metadata();
    trailer.set('x-stream-trailer', String(count));
    call.end(trailer);
  },

  clientStream(call: grpc.ServerReadableStream<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) {
    const parts: string[] = [];
    call.on('data', (m: EchoRequest) => parts.push(m.message));
    call.on('end', () => {
      if (parts.includes('fail')) callback({ code: grpc.status.ABORTED, details: `aborted after ${parts.length}` });
      else callback(null, { message: parts.join(',') });
    });
  },

  async clientStreamForAwait(call: grpc.ServerReadableStream<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) {
    let total = 0;
    let n = 0;
    for await (const m of call as AsyncIterable<EchoRequest>) {
      total += m.count;
      n++;
    }
    callback(null, { message: `${n} messages, total ${total}` });
  },

  bidi(call: grpc.ServerDuplexStream<EchoRequest, EchoReply>) {
    call.on('data', (m: EchoRequest) => {
      call.write({ message: m.message.toUpperCase(), seen_metadata: String(call.metadata.get('x-custom')[0] ?? '') });
    });
    call.on('end', () => call.end());
  },

  endless(call: grpc.ServerWritableStream<EchoRequest, EchoReply>) {
    let i = 0;
    const timer = setInterval(() => {
      if (!call.cancelled) call.write({ message: `tick ${i++}` });
    }, 5);
    call.on('cancelled', () => {
      clearInterval(timer);
      cancelled.get(call.request.message)?.();
    });
  },
};

interface Outcome {
  code: number;
  details: string;
  response?: unknown;
  responses?: unknown[];
  initial?: Record<string, unknown>;
  trailers?: Record<string, unknown>;
}

type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

function metadataObject(md: grpc.Metadata | undefined, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!md) return out;
  for (const k of keys) {
    const v = md.get(k);
    if (v.length > 0) out[k] = v.map((x) => (Buffer.isBuffer(x) ? `bin:${x.toString('hex')}` : x));
  }
  return out;
}

const MD_KEYS = ['x-initial', 'x-trailer', 'x-trailer-bin', 'x-error-info', 'x-stream-trailer', 'grpc-status-details-bin'];

function callUnary(client: Client, method: string, request: Partial<EchoRequest>, md = new grpc.Metadata(), deadline?: Date): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    let initial: grpc.Metadata | undefined;
    const options: grpc.CallOptions = deadline ? { deadline } : {};
    const call = client[method]!(request, md, options, (err: grpc.ServiceError | null, response: unknown) => {
      if (err) resolve({ code: err.code, details: err.details, initial: metadataObject(initial, MD_KEYS), trailers: metadataObject(err.metadata, MD_KEYS) });
      else resolve({ code: 0, details: '', response, initial: metadataObject(initial, MD_KEYS) });
    }) as grpc.ClientUnaryCall;
    call.on('metadata', (m: grpc.Metadata) => (initial = m));
  });
}

function callWithStatus<T extends grpc.ClientUnaryCall | grpc.ClientReadableStream<unknown> | grpc.ClientDuplexStream<unknown, unknown> | grpc.ClientWritableStream<unknown>>(
  call: T,
): Promise<grpc.StatusObject> {
  return new Promise((resolve) => call.on('status', resolve));
}

async function callServerStream(client: Client, request: Partial<EchoRequest>): Promise<Outcome> {
  const call = client['serverStream']!(request) as grpc.ClientReadableStream<EchoReply>;
  const status = callWithStatus(call);
  const responses: unknown[] = [];
  call.on('data', (m: EchoReply) => {
    responses.push(m);
  });
  const error = await new Promise<grpc.ServiceError | undefined>((resolve) => {
    call.on('error', (e: grpc.ServiceError) => resolve(e));
    call.on('end', () => resolve(undefined));
  });
  const s = await status;
  return { code: error ? error.code : s.code, details: s.details, responses, trailers: metadataObject(s.metadata, MD_KEYS) };
}

function callClientStream(client: Client, method: string, requests: Partial<EchoRequest>[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const call = client[method]!((err: grpc.ServiceError | null, response: unknown) => {
      if (err) resolve({ code: err.code, details: err.details });
      else resolve({ code: 0, details: '', response });
    }) as grpc.ClientWritableStream<Partial<EchoRequest>>;
    for (const r of requests) call.write(r);
    call.end();
  });
}

async function callBidi(client: Client, messages: string[]): Promise<Outcome> {
  const md = new grpc.Metadata();
  md.set('x-custom', 'bidi-md');
  const call = client['bidi']!(md) as grpc.ClientDuplexStream<Partial<EchoRequest>, EchoReply>;
  const status = callWithStatus(call);
  const responses: unknown[] = [];
  // Ping-pong: each message is written after the previous answer came back.
  for (const m of messages) {
    const answer = new Promise<unknown>((resolve) => call.once('data', resolve));
    call.write({ message: m });
    responses.push(await answer);
  }
  call.end();
  await new Promise<void>((resolve) => {
    call.on('end', () => resolve());
    call.resume();
  });
  const s = await status;
  return { code: s.code, details: s.details, responses };
}

/** Sends bytes that are not a valid EchoRequest (field 1 with the undefined wire type 7). */
function callMalformed(client: Client): Promise<Outcome> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/compat.test.Echo/UnaryEcho',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from([0x0f]),
      (err) => resolve(err ? { code: err.code, details: '' } : { code: 0, details: '' }),
    );
  });
}

async function scenarios(client: Client): Promise<Record<string, Outcome>> {
  const md = new grpc.Metadata();
  md.set('x-custom', 'hello-md');
  md.set('x-data-bin', Buffer.from([0, 255, 16]));
  return {
    unaryOk: await callUnary(client, 'unaryEcho', { message: 'hi' }, md, new Date(Date.now() + 60_000)),
    unaryNoDeadline: await callUnary(client, 'unaryEcho', { message: 'hi' }),
    unaryStatusObject: await callUnary(client, 'unaryEcho', { message: 'fail' }),
    unaryPlainError: await callUnary(client, 'unaryEcho', { message: 'plain-error' }),
    unaryServiceError: await callUnary(client, 'unaryEcho', { message: 'service-error' }),
    unaryRichError: await callUnary(client, 'unaryEcho', { message: 'rich' }),
    unimplemented: await callUnary(client, 'notImplemented', { message: 'x' }),
    serverStream: await callServerStream(client, { message: 'item', count: 5 }),
    serverStreamEmpty: await callServerStream(client, { message: 'none', count: 0 }),
    serverStreamError: await callServerStream(client, { message: 'fail', count: 2 }),
    clientStream: await callClientStream(client, 'clientStream', [{ message: 'a' }, { message: 'b' }, { message: 'c' }]),
    clientStreamEmpty: await callClientStream(client, 'clientStream', []),
    clientStreamError: await callClientStream(client, 'clientStream', [{ message: 'x' }, { message: 'fail' }]),
    clientStreamForAwait: await callClientStream(client, 'clientStreamForAwait', [{ count: 1 }, { count: 2 }, { count: 39 }]),
    bidi: await callBidi(client, ['one', 'two', 'three']),
    malformedRequest: await callMalformed(client),
    afterMalformed: await callUnary(client, 'unaryEcho', { message: 'still serving' }),
  };
}

describe('grpc-js compatibility', () => {
  let dir: string;
  let definition: grpc.GrpcObject;
  let grpcJsServer: grpc.Server;
  let grpcJsPort: number;
  let queue: RequestQueue;
  let server: GrpcServer;
  let port: number;
  const clients: grpc.Client[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'compat-'));
    writeFileSync(path.join(dir, 'echo.proto'), PROTO);
    const packageDefinition = protoLoader.loadSync('echo.proto', { includeDirs: [dir], keepCase: true, defaults: true });
    definition = grpc.loadPackageDefinition(packageDefinition);
    const Echo = (definition['compat'] as grpc.GrpcObject)['test'] as grpc.GrpcObject;
    const service = (Echo['Echo'] as grpc.ServiceClientConstructor).service;

    grpcJsServer = new grpc.Server();
    grpcJsServer.addService(service, implementation);
    grpcJsPort = await new Promise<number>((resolve, reject) =>
      grpcJsServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );

    // The only difference from the grpc-js server above: how the server is built.
    server = new GrpcServer();
    server.addService(service, implementation);
    queue = await createRequestQueue({ urls: ['http://127.0.0.1:0/'], backend: 'node' });
    server.listen(queue);
    port = Number(new URL(queue.urls[0]!.replace('+', 'localhost')).port);
  });

  after(async () => {
    for (const c of clients) c.close();
    await server.close({ graceful: 0 });
    await queue.close();
    await new Promise<void>((resolve) => grpcJsServer.tryShutdown(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  function client(p: number): Client {
    const Ctor = ((definition['compat'] as grpc.GrpcObject)['test'] as grpc.GrpcObject)['Echo'] as grpc.ServiceClientConstructor;
    const c = new Ctor(`127.0.0.1:${p}`, grpc.credentials.createInsecure()) as unknown as Client;
    clients.push(c);
    return c;
  }

  it('gives the grpc-js client the same results as a grpc-js server, call for call', async () => {
    const expected = await scenarios(client(grpcJsPort));
    const actual = await scenarios(client(port));
    // A grpc-js server puts "OK" in grpc-message on success, this server sends none; clients ignore it.
    const okDetails = (o: Outcome): Outcome => (o.code === 0 ? { ...o, details: '' } : o);
    for (const name of Object.keys(expected)) {
      assert.deepEqual(okDetails(actual[name]!), okDetails(expected[name]!), `scenario ${name}`);
    }
  });

  it('carries the values the handlers produce (not just equality with grpc-js)', async () => {
    const o = await scenarios(client(port));
    assert.deepEqual(o['unaryOk']!.response, {
      message: 'echo: hi',
      seen_metadata: 'hello-md|hello-md|00ff10',
      has_deadline: true,
      peer_is_set: true,
      path: '/compat.test.Echo/UnaryEcho',
    });
    assert.equal((o['unaryNoDeadline']!.response as EchoReply).has_deadline, false);
    assert.deepEqual(o['unaryOk']!.initial, { 'x-initial': ['sent-early'] });
    assert.deepEqual(o['unaryStatusObject'], {
      code: grpc.status.INVALID_ARGUMENT,
      details: 'bad input: fail',
      initial: { 'x-initial': ['sent-early'] },
      trailers: { 'x-error-info': ['from-handler'] },
    });
    assert.equal(o['unaryPlainError']!.code, grpc.status.UNKNOWN);
    assert.equal(o['unaryPlainError']!.details, 'it broke');
    assert.equal(o['unaryServiceError']!.code, grpc.status.NOT_FOUND);
    assert.equal(o['unaryServiceError']!.details, 'no such thing');
    assert.equal(o['unimplemented']!.code, grpc.status.UNIMPLEMENTED);
    assert.equal(o['malformedRequest']!.code, grpc.status.INTERNAL);
    assert.equal((o['afterMalformed']!.response as EchoReply).message, 'echo: still serving');
    assert.equal(o['serverStream']!.responses!.length, 5);
    assert.deepEqual(o['serverStream']!.trailers, { 'x-stream-trailer': ['5'] });
    assert.equal(o['serverStreamError']!.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(o['serverStreamError']!.responses!.length, 2);
    assert.equal((o['clientStream']!.response as EchoReply).message, 'a,b,c');
    assert.equal(o['clientStreamError']!.code, grpc.status.ABORTED);
    assert.equal((o['clientStreamForAwait']!.response as EchoReply).message, '3 messages, total 42');
    assert.deepEqual(
      o['bidi']!.responses!.map((r) => (r as EchoReply).message),
      ['ONE', 'TWO', 'THREE'],
    );
    assert.equal((o['bidi']!.responses![0] as EchoReply).seen_metadata, 'bidi-md');
  });

  it('reports a client cancel to the handler as call.cancelled and the cancelled event', async () => {
    const c = client(port);
    const seen = new Promise<void>((resolve) => cancelled.set('cancel-me', resolve));
    const call = c['endless']!({ message: 'cancel-me' }) as grpc.ClientReadableStream<EchoReply>;
    await new Promise((resolve) => call.once('data', resolve));
    const status = callWithStatus(call);
    call.on('error', () => undefined);
    call.cancel();
    await seen;
    assert.equal((await status).code, grpc.status.CANCELLED);
    cancelled.delete('cancel-me');
  });

  it('reports a passed deadline to the handler as a cancel, like grpc-js does', async () => {
    for (const p of [grpcJsPort, port]) {
      const c = client(p);
      const seen = new Promise<void>((resolve) => cancelled.set(`deadline-${p}`, resolve));
      const call = c['endless']!({ message: `deadline-${p}` }, new grpc.Metadata(), { deadline: Date.now() + 200 }) as grpc.ClientReadableStream<EchoReply>;
      call.on('data', () => undefined);
      call.on('error', () => undefined);
      const status = await callWithStatus(call);
      assert.equal(status.code, grpc.status.DEADLINE_EXCEEDED, `server on port ${p}`);
      await seen;
      cancelled.delete(`deadline-${p}`);
    }
  });

  it('keeps proto-loader descriptors for reflection', () => {
    const info = server.services().find((s) => s.name === 'compat.test.Echo');
    assert.ok(info);
    assert.ok(info.fileDescriptorProtos.length > 0);
    assert.deepEqual(info.methods.sort(), ['Bidi', 'ClientStream', 'ClientStreamForAwait', 'Endless', 'NotImplemented', 'ServerStream', 'UnaryEcho']);
  });
});
