/** The service-registration API: protobufjs services from .proto files, handler lookup, registration errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { GrpcServer, loadProtos, methodsFromService, type CallContext } from '../../src/grpc/index.js';
import { serve } from '../interop/harness.js';
import { closeSession, connect, decodeMsgs, EchoService, msg, rawCall } from './helpers.js';

const FIXTURES = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../test/grpc/fixtures');

interface HelloRequest {
  name: string;
}
interface HelloReply {
  message: string;
}

test('loadProtos resolves imports (well-known types included) through includeDirs', () => {
  const root = loadProtos('greet.proto', { includeDirs: [FIXTURES] });
  const svc = root.lookupService('greet.Greeter');
  assert.deepEqual(svc.methodsArray.map((m) => m.name), ['SayHello', 'SayHelloStream', 'Ping']);
  assert.ok(root.lookupType('google.protobuf.Timestamp'));
  assert.throws(() => loadProtos('missing.proto', { includeDirs: [FIXTURES] }));
});

test('typed handlers under proto or lowerCamel names serve grpc-js clients; services() lists them with descriptors', async () => {
  const root = loadProtos('greet.proto', { includeDirs: [FIXTURES] });
  const server = new GrpcServer();
  server.addService(root.lookupService('greet.Greeter'), {
    SayHello: async (req: HelloRequest): Promise<HelloReply> => ({ message: `Hello ${req.name}` }),
    sayHelloStream: async function* (req: HelloRequest, ctx: CallContext): AsyncGenerator<HelloReply> {
      for (let i = 1; i <= 3; i++) {
        if (ctx.signal.aborted) return;
        yield { message: `Hello ${req.name} #${i}` };
      }
    },
  });
  const [info] = server.services();
  assert.equal(info!.name, 'greet.Greeter');
  assert.deepEqual(info!.methods, ['SayHello', 'SayHelloStream', 'Ping']);
  assert.ok(info!.fileDescriptorProtos.length >= 1, 'descriptors for reflection');

  const served = await serve(server);
  const def = protoLoader.loadSync('greet.proto', { includeDirs: [FIXTURES] });
  const Greeter = (grpc.loadPackageDefinition(def) as unknown as { greet: { Greeter: new (a: string, c: grpc.ChannelCredentials) => grpc.Client & Record<string, Function> } }).greet.Greeter;
  const client = new Greeter(served.address, grpc.credentials.createInsecure());
  try {
    const reply = await new Promise<HelloReply>((resolve, reject) =>
      client.SayHello!({ name: 'Ada' }, (e: Error | null, r: HelloReply) => (e ? reject(e) : resolve(r))),
    );
    assert.equal(reply.message, 'Hello Ada');
    const stream = client.SayHelloStream!({ name: 'Bo' }) as grpc.ClientReadableStream<HelloReply>;
    const got: string[] = [];
    for await (const m of stream) got.push((m as HelloReply).message);
    assert.deepEqual(got, ['Hello Bo #1', 'Hello Bo #2', 'Hello Bo #3']);
    const ping = await new Promise<grpc.ServiceError | null>((resolve) => client.Ping!({}, (e: grpc.ServiceError | null) => resolve(e)));
    assert.equal(ping?.code, grpc.status.UNIMPLEMENTED, 'a declared method without a handler');
  } finally {
    client.close();
    await served.close();
  }
});

test('registration errors: unknown handler names, duplicates, bad paths, missing handlers', () => {
  const root = loadProtos('greet.proto', { includeDirs: [FIXTURES] });
  const svc = root.lookupService('greet.Greeter');
  assert.throws(() => new GrpcServer().addService(svc, { SayHelo: async () => ({}) }), /no method "SayHelo"/);
  const server = new GrpcServer().addService(svc, {});
  assert.throws(() => server.addService(svc, {}), /already registered/);
  const method = { requestStream: false, responseStream: false, deserialize: (b: Uint8Array) => b, serialize: (b: Uint8Array) => b, handler: async (b: Uint8Array) => b };
  assert.throws(() => server.registerMethod({ ...method, path: 'nope' }), /invalid method path/);
  assert.throws(() => server.registerMethod({ ...method, path: '/a.B/C', handler: undefined as unknown as typeof method.handler }), /no handler/);
});

test('a method definition whose serialize and deserialize were replaced runs through the replacements', async () => {
  const server = new GrpcServer();
  const defs = methodsFromService(EchoService, {
    Unary: async (req: { text?: string }) => ({ text: `echo ${req.text ?? ''}` }),
  });
  for (const def of defs) {
    if (def.path === '/test.Echo/Unary') {
      // Replaced in place, and copied with a new path.
      const { deserialize, serialize } = def;
      def.deserialize = (bytes) => ({ ...(deserialize(bytes) as object), text: 'from deserialize' });
      def.serialize = (message) => serialize({ ...(message as object), n: 42 });
      server.registerMethod({ ...def, path: '/test.Echo/Wrapped' });
    }
    server.registerMethod(def);
  }
  const served = await serve(server);
  const session = await connect(served.port);
  try {
    const wrapped = await rawCall(session, '/test.Echo/Wrapped', { body: [msg({ text: 'hi' })] });
    assert.equal(wrapped.grpcStatus, 0);
    assert.deepEqual(decodeMsgs(wrapped.frames).map((m) => [m.text, m.n]), [['echo from deserialize', 42]]);
    const inPlace = await rawCall(session, '/test.Echo/Unary', { body: [msg({ text: 'hi' })] });
    assert.equal(inPlace.grpcStatus, 0);
    assert.deepEqual(decodeMsgs(inPlace.frames).map((m) => [m.text, m.n]), [['echo from deserialize', 42]]);
  } finally {
    await closeSession(session);
    await served.close();
  }
});
