// Server reflection (grpc.reflection.v1 and v1alpha) exercised with the
// @grpc/grpc-js client over the package's shipped reflection.proto. The
// descriptors that come back are checked the way tools use them: built into a
// strict descriptor registry (@bufbuild/protobuf, which rejects unresolved
// names and missing dependencies, as grpcurl does) and used to call a method
// with no .proto file on the client side.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { create, createFileRegistry, fromBinary, toBinary, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import {
  addHealthService,
  addReflectionService,
  createRequestQueue,
  GrpcServer,
  loadProtos,
  packageProtoDir,
  type RequestQueue,
} from '../../src/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const COMMON = `
syntax = "proto3";
package shop.common;
import "google/protobuf/timestamp.proto";
message Money { string currency = 1; int64 units = 2; }
message Audit {
  google.protobuf.Timestamp at = 1;
  map<string, Money> totals_by_region = 2;
  enum Level { LOW = 0; HIGH = 1; }
  Level level = 3;
}
`;
const ORDERS = `
syntax = "proto3";
package shop.orders;
import "shop/common.proto";
service Orders {
  rpc Get (GetOrder) returns (Order);
  rpc Follow (GetOrder) returns (stream Order);
}
message GetOrder { string id = 1; }
message Order {
  string id = 1;
  shop.common.Money total = 2;
  shop.common.Audit audit = 3;
  oneof note { string text = 4; int32 code = 5; }
}
`;
const TAGS = `
syntax = "proto2";
package shop.tags;
message Tagged {
  optional string name = 1;
  extensions 100 to 199;
}
extend Tagged {
  optional int32 priority = 100;
  optional string owner = 101;
}
service Tags { rpc Echo (Tagged) returns (Tagged); }
`;
const LEGACY = `
syntax = "proto3";
package legacy;
import "shop/common.proto";
service Ledger { rpc Balance (Account) returns (shop.common.Money); }
message Account { string id = 1; }
`;

type Response = Record<string, unknown> & { message_response?: string };

/** One reflection stream: send a request, read its answer. */
class Session {
  readonly #call: grpc.ClientDuplexStream<object, Response>;
  readonly #waiting: ((r: Response) => void)[] = [];
  constructor(client: grpc.Client & { serverReflectionInfo(): grpc.ClientDuplexStream<object, Response> }) {
    this.#call = client.serverReflectionInfo();
    this.#call.on('data', (r: Response) => this.#waiting.shift()?.(r));
    this.#call.on('error', () => undefined);
  }
  ask(request: object): Promise<Response> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#call.write(request);
    });
  }
  async end(): Promise<grpc.StatusObject> {
    const status = new Promise<grpc.StatusObject>((resolve) => this.#call.on('status', resolve));
    this.#call.end();
    return status;
  }
}

function reflectionClient(version: 'v1' | 'v1alpha', port: number) {
  const def = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, {
    includeDirs: [packageProtoDir()],
    keepCase: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    grpc: { reflection: Record<string, { ServerReflection: grpc.ServiceClientConstructor }> };
  };
  const Ctor = pkg.grpc.reflection[version]!.ServerReflection;
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    serverReflectionInfo(): grpc.ClientDuplexStream<object, Response>;
  };
}

function filesOf(r: Response): FileDescriptorProto[] {
  assert.equal(r.message_response, 'file_descriptor_response', JSON.stringify(r.error_response));
  const list = (r['file_descriptor_response'] as { file_descriptor_proto: Buffer[] }).file_descriptor_proto;
  return list.map((b) => fromBinary(FileDescriptorProtoSchema, b));
}

/** The requested file comes first, its dependencies after it (as grpc servers answer); resolve imports by name. */
function registryOf(files: FileDescriptorProto[]): FileRegistry {
  return createFileRegistry(files[0]!, (name) => files.find((f) => f.name === name));
}

describe('server reflection', () => {
  let dir: string;
  let queue: RequestQueue;
  let server: GrpcServer;
  let port: number;
  const clients: grpc.Client[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'reflection-'));
    mkdirSync(path.join(dir, 'shop'));
    writeFileSync(path.join(dir, 'shop', 'common.proto'), COMMON);
    writeFileSync(path.join(dir, 'shop', 'orders.proto'), ORDERS);
    writeFileSync(path.join(dir, 'shop', 'tags.proto'), TAGS);
    writeFileSync(path.join(dir, 'legacy.proto'), LEGACY);

    server = new GrpcServer();
    const greet = loadProtos('greet.proto', { includeDirs: [path.join(repoRoot, 'examples', 'proto')] });
    server.addService(greet.lookupService('greet.Greeter'), {
      sayHello: (req: { name: string }) => ({ message: `Hello ${req.name}` }),
    });
    // Loaded with protobufjs' default camelCase field names: reflection must still report the names in the .proto.
    const shop = loadProtos(['shop/orders.proto', 'shop/tags.proto'], { includeDirs: [dir] });
    server.addService(shop.lookupService('shop.orders.Orders'), {
      get: (req: { id: string }) => ({ id: req.id, total: { currency: 'EUR', units: 12 }, text: 'thanks' }),
    });
    server.addService(shop.lookupService('shop.tags.Tags'), { echo: (req: unknown) => req });
    // A grpc-js style service whose descriptors come from @grpc/proto-loader.
    const legacy = grpc.loadPackageDefinition(protoLoader.loadSync('legacy.proto', { includeDirs: [dir], keepCase: true }));
    server.addService(((legacy['legacy'] as grpc.GrpcObject)['Ledger'] as grpc.ServiceClientConstructor).service, {
      balance: (_call: unknown, cb: grpc.sendUnaryData<object>) => cb(null, { currency: 'USD', units: 7 }),
    } as grpc.UntypedServiceImplementation);
    addHealthService(server);
    addReflectionService(server);
    queue = await createRequestQueue({ urls: ['http://127.0.0.1:0/'], backend: 'node' });
    server.listen(queue);
    port = Number(new URL(queue.urls[0]!).port);
  });

  after(async () => {
    for (const c of clients) c.close();
    await server.close({ graceful: 0 });
    await queue.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function session(version: 'v1' | 'v1alpha' = 'v1'): Session {
    const c = reflectionClient(version, port);
    clients.push(c);
    return new Session(c);
  }

  for (const version of ['v1', 'v1alpha'] as const) {
    it(`${version}: lists every registered service, the built-in ones included`, async () => {
      const s = session(version);
      const r = await s.ask({ host: 'localhost', list_services: '*' });
      assert.equal(r.message_response, 'list_services_response');
      const names = (r['list_services_response'] as { service: { name: string }[] }).service.map((x) => x.name).sort();
      assert.deepEqual(names, [
        'greet.Greeter',
        'grpc.health.v1.Health',
        'grpc.reflection.v1.ServerReflection',
        'grpc.reflection.v1alpha.ServerReflection',
        'legacy.Ledger',
        'shop.orders.Orders',
        'shop.tags.Tags',
      ]);
      assert.equal(r['valid_host'], 'localhost');
      assert.equal((r['original_request'] as { list_services: string }).list_services, '*');
      assert.equal((await s.end()).code, grpc.status.OK);
    });
  }

  it('describes a service well enough to call it with no .proto on the client', async () => {
    const s = session();
    const files = filesOf(await s.ask({ file_containing_symbol: 'greet.Greeter' }));
    assert.equal(files[0]!.name, 'greet.proto');
    const registry = registryOf(files);
    const service = registry.getService('greet.Greeter');
    assert.ok(service);
    const sayHello = service.methods.find((m) => m.name === 'SayHello')!;
    assert.equal(service.methods.find((m) => m.name === 'SayHellos')!.methodKind, 'server_streaming');
    const request = toBinary(sayHello.input, create(sayHello.input, { name: 'Reflection' } as never));
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    clients.push(client);
    const reply = await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(
        '/greet.Greeter/SayHello',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(request),
        (e, r) => (e ? reject(e) : resolve(r!)),
      ),
    );
    const decoded = fromBinary(sayHello.output, reply) as unknown as { message: string };
    assert.equal(decoded.message, 'Hello Reflection');
    await s.end();
  });

  it('answers for methods, messages and nested types, with every transitive dependency', async () => {
    const s = session();
    for (const symbol of ['shop.orders.Orders', 'shop.orders.Orders.Follow', 'shop.orders.Order', '.shop.orders.GetOrder']) {
      const files = filesOf(await s.ask({ file_containing_symbol: symbol }));
      assert.equal(files[0]!.name, 'shop/orders.proto', symbol);
      assert.deepEqual(files.map((f) => f.name).sort(), ['google/protobuf/timestamp.proto', 'shop/common.proto', 'shop/orders.proto']);
      const registry = registryOf(files);
      const audit = registry.getMessage('shop.common.Audit');
      assert.ok(audit);
      assert.equal(audit.field['totalsByRegion']?.fieldKind, 'map');
      assert.equal(audit.field['totalsByRegion']?.name, 'totals_by_region');
      assert.equal(registry.getMessage('shop.orders.Order')?.oneofs[0]?.name, 'note');
    }
    const nested = filesOf(await s.ask({ file_containing_symbol: 'shop.common.Audit.Level' }));
    assert.equal(nested[0]!.name, 'shop/common.proto');
    await s.end();
  });

  it('finds files by the name their importers use', async () => {
    const s = session();
    const files = filesOf(await s.ask({ file_by_filename: 'shop/common.proto' }));
    assert.deepEqual(files.map((f) => f.name), ['shop/common.proto', 'google/protobuf/timestamp.proto']);
    assert.equal(files[0]!.package, 'shop.common');
    assert.deepEqual(files[0]!.dependency, ['google/protobuf/timestamp.proto']);
    await s.end();
  });

  it('answers extensions: the declaring file and the known numbers', async () => {
    const s = session();
    const files = filesOf(await s.ask({ file_containing_extension: { containing_type: 'shop.tags.Tagged', extension_number: 101 } }));
    assert.equal(files[0]!.name, 'shop/tags.proto');
    const registry = registryOf(files);
    assert.equal(registry.getExtension('shop.tags.owner')?.number, 101);
    const numbers = await s.ask({ all_extension_numbers_of_type: 'shop.tags.Tagged' });
    assert.equal(numbers.message_response, 'all_extension_numbers_response');
    assert.deepEqual(numbers['all_extension_numbers_response'], { base_type_name: 'shop.tags.Tagged', extension_number: [100, 101] });
    await s.end();
  });

  it('describes grpc-js services from proto-loader descriptors, with dependencies a strict registry accepts', async () => {
    const s = session();
    const files = filesOf(await s.ask({ file_containing_symbol: 'legacy.Ledger.Balance' }));
    const registry = registryOf(files);
    const method = registry.getService('legacy.Ledger')?.methods[0];
    assert.equal(method?.output.typeName, 'shop.common.Money');
    await s.end();
  });

  it('describes the built-in services under their canonical file names', async () => {
    const s = session();
    const health = filesOf(await s.ask({ file_containing_symbol: 'grpc.health.v1.Health' }));
    assert.equal(health[0]!.name, 'grpc/health/v1/health.proto');
    assert.ok(registryOf(health).getService('grpc.health.v1.Health')?.methods.some((m) => m.name === 'Watch'));
    const refl = filesOf(await s.ask({ file_containing_symbol: 'grpc.reflection.v1alpha.ServerReflection' }));
    assert.equal(refl[0]!.name, 'grpc/reflection/v1alpha/reflection.proto');
    await s.end();
  });

  it('answers what it cannot find with an error_response and keeps the stream open', async () => {
    const s = session('v1alpha');
    const cases: object[] = [
      { file_by_filename: 'nope.proto' },
      { file_containing_symbol: 'no.such.Symbol' },
      { file_containing_extension: { containing_type: 'shop.tags.Tagged', extension_number: 150 } },
      { file_containing_extension: { containing_type: 'no.Such', extension_number: 1 } },
      { all_extension_numbers_of_type: 'no.Such' },
    ];
    for (const request of cases) {
      const r = await s.ask(request);
      assert.equal(r.message_response, 'error_response', JSON.stringify(request));
      assert.equal((r['error_response'] as { error_code: number }).error_code, grpc.status.NOT_FOUND);
    }
    const empty = await s.ask({ host: 'x' });
    assert.equal((empty['error_response'] as { error_code: number }).error_code, grpc.status.INVALID_ARGUMENT);
    // Still answering after the errors.
    const r = await s.ask({ list_services: '' });
    assert.equal(r.message_response, 'list_services_response');
    assert.equal((await s.end()).code, grpc.status.OK);
  });

  it('ends a stream that sends a malformed request with INTERNAL and keeps serving', async () => {
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    clients.push(client);
    const call = client.makeBidiStreamRequest(
      '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined);
    call.on('data', () => undefined);
    call.write(Buffer.from([0x3a, 0x40, 0x01])); // field 7 claims 64 bytes, 1 follows
    call.end();
    assert.equal((await status).code, grpc.status.INTERNAL);
    const s = session();
    const r = await s.ask({ list_services: '' });
    assert.equal(r.message_response, 'list_services_response');
    await s.end();
  });
});
