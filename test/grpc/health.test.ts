// grpc.health.v1.Health served by GrpcServer on the portable backend, called
// with the @grpc/grpc-js client built from the package's shipped health.proto.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import {
  addHealthService,
  createRequestQueue,
  GrpcServer,
  HealthService,
  loadProtos,
  packageProtoDir,
  type RequestQueue,
} from '../../src/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

type HealthClient = grpc.Client & {
  check(req: { service: string }, cb: (e: grpc.ServiceError | null, r?: { status: string }) => void): grpc.ClientUnaryCall;
  list(req: object, cb: (e: grpc.ServiceError | null, r?: { statuses: Record<string, { status: string }> }) => void): grpc.ClientUnaryCall;
  watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

function healthClientCtor(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync('grpc/health/v1/health.proto', { includeDirs: [packageProtoDir()], enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  return pkg.grpc.health.v1.Health;
}

function check(client: HealthClient, service: string): Promise<{ status?: string; code: number; details?: string }> {
  return new Promise((resolve) =>
    client.check({ service }, (e, r) => resolve(e ? { code: e.code, details: e.details } : { code: 0, status: r!.status })),
  );
}

/** Reads a Watch stream message by message. */
class Watcher {
  readonly #queue: string[] = [];
  readonly #waiters: ((s: string) => void)[] = [];
  readonly ended: Promise<grpc.StatusObject>;
  constructor(readonly call: grpc.ClientReadableStream<{ status: string }>) {
    call.on('data', (m: { status: string }) => {
      const w = this.#waiters.shift();
      if (w) w(m.status);
      else this.#queue.push(m.status);
    });
    call.on('error', () => undefined);
    this.ended = new Promise((resolve) => call.on('status', resolve));
  }
  next(): Promise<string> {
    const s = this.#queue.shift();
    if (s !== undefined) return Promise.resolve(s);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

async function serve(setup: (server: GrpcServer) => void): Promise<{ server: GrpcServer; queue: RequestQueue; client: HealthClient }> {
  const server = new GrpcServer();
  setup(server);
  const queue = await createRequestQueue({ urls: ['http://127.0.0.1:0/'], backend: 'node' });
  server.listen(queue);
  const port = new URL(queue.urls[0]!).port;
  const Ctor = healthClientCtor();
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as HealthClient;
  return { server, queue, client };
}

describe('grpc.health.v1.Health', () => {
  let server: GrpcServer;
  let queue: RequestQueue;
  let client: HealthClient;
  let health: HealthService;

  before(async () => {
    ({ server, queue, client } = await serve((s) => {
      const protos = loadProtos('greet.proto', { includeDirs: [path.join(root, 'examples', 'proto')] });
      s.addService(protos.lookupService('greet.Greeter'), {
        sayHello: (req: { name: string }) => ({ message: `Hello ${req.name}` }),
      });
      health = addHealthService(s);
    }));
  });

  after(async () => {
    client.close();
    await server.close({ graceful: 0 });
    await queue.close();
  });

  it('answers Check for the server as a whole and for services registered before it', async () => {
    assert.deepEqual(await check(client, ''), { code: 0, status: 'SERVING' });
    assert.deepEqual(await check(client, 'greet.Greeter'), { code: 0, status: 'SERVING' });
  });

  it('answers NOT_FOUND for a service it knows nothing about', async () => {
    const r = await check(client, 'no.such.Service');
    assert.equal(r.code, grpc.status.NOT_FOUND);
    assert.match(r.details!, /no\.such\.Service/);
  });

  it('reports statuses the application sets, and forgets cleared ones', async () => {
    health.setStatus('billing', 'NOT_SERVING');
    assert.deepEqual(await check(client, 'billing'), { code: 0, status: 'NOT_SERVING' });
    health.setStatus('billing', 'SERVING');
    assert.deepEqual(await check(client, 'billing'), { code: 0, status: 'SERVING' });
    health.clearStatus('billing');
    assert.equal((await check(client, 'billing')).code, grpc.status.NOT_FOUND);
  });

  it('lists every known status', async () => {
    health.setStatus('inventory', 'NOT_SERVING');
    const r = await new Promise<Record<string, { status: string }>>((resolve, reject) =>
      client.list({}, (e, res) => (e ? reject(e) : resolve(res!.statuses))),
    );
    assert.deepEqual(r, { '': { status: 'SERVING' }, 'greet.Greeter': { status: 'SERVING' }, inventory: { status: 'NOT_SERVING' } });
    health.clearStatus('inventory');
  });

  it('rejects a status that only Watch may send', () => {
    assert.throws(() => health.setStatus('x', 'SERVICE_UNKNOWN'), TypeError);
  });

  it('Watch sends the current status, then every change; an unknown service stays open as SERVICE_UNKNOWN', async () => {
    const w = new Watcher(client.watch({ service: 'orders' }));
    assert.equal(await w.next(), 'SERVICE_UNKNOWN');
    health.setStatus('orders', 'SERVING');
    assert.equal(await w.next(), 'SERVING');
    health.setStatus('orders', 'NOT_SERVING');
    assert.equal(await w.next(), 'NOT_SERVING');
    health.clearStatus('orders');
    assert.equal(await w.next(), 'SERVICE_UNKNOWN');
    w.call.cancel();
    assert.equal((await w.ended).code, grpc.status.CANCELLED);
  });

  it('Watch of the overall status sees it change', async () => {
    const w = new Watcher(client.watch({ service: '' }));
    assert.equal(await w.next(), 'SERVING');
    health.setStatus('', 'NOT_SERVING');
    assert.equal(await w.next(), 'NOT_SERVING');
    health.setStatus('', 'SERVING');
    assert.equal(await w.next(), 'SERVING');
    w.call.cancel();
    await w.ended;
  });
});

describe('health on shutdown', () => {
  it('turns every status NOT_SERVING and ends Watch calls with OK when server.close() begins', async () => {
    let health!: HealthService;
    const { server, queue, client } = await serve((s) => {
      health = addHealthService(s, { statuses: { '': 'SERVING', api: 'SERVING' } });
    });
    const overall = new Watcher(client.watch({ service: '' }));
    const api = new Watcher(client.watch({ service: 'api' }));
    assert.equal(await overall.next(), 'SERVING');
    assert.equal(await api.next(), 'SERVING');
    // A long grace period: the close must finish because the watches end, not because time ran out.
    const closed = server.close({ graceful: 10 * 60_000 });
    assert.equal(await overall.next(), 'NOT_SERVING');
    assert.equal(await api.next(), 'NOT_SERVING');
    assert.equal((await overall.ended).code, grpc.status.OK);
    assert.equal((await api.ended).code, grpc.status.OK);
    await closed;
    assert.equal(health.getStatus('api'), 'NOT_SERVING');
    // New calls after shutdown are refused by the server.
    const r = await check(client, '');
    assert.equal(r.code, grpc.status.UNAVAILABLE);
    client.close();
    await queue.close();
  });
});
