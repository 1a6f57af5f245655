/**
 * grpc.health.v1.Health: Check, List and Watch over per-service serving
 * statuses that the application sets ("" stands for the whole server).
 */
import type protobuf from 'protobufjs';
import { GrpcError } from '../error.js';
import { lazyServiceDescriptors, withLazyDescriptors } from '../reflection/lazy-descriptors.js';
import { loadPackageProto, packageProtoDir } from '../reflection/package-protos.js';
import type { GrpcServer } from '../server.js';
import { Status } from '../status.js';
import type { CallContext, MethodDefinition } from '../types.js';
import { HealthStatusStore, ServingStatus, type ServingStatusName } from './health-status.js';

export { ServingStatus, type ServingStatusName } from './health-status.js';

export const HEALTH_PROTO = 'grpc/health/v1/health.proto';
export const HEALTH_SERVICE_NAME = 'grpc.health.v1.Health';

export interface HealthServiceOptions {
  /** Statuses to start with. Default `{ "": "SERVING" }`. */
  readonly statuses?: Readonly<Record<string, ServingStatusName>>;
}

interface HealthCheckRequest {
  service: string;
}

interface HealthCheckResponse {
  status: number;
}

/**
 * The health of a server and its services. Set statuses with `setStatus`;
 * serve them with `addHealthService(server, health)` (or register `methods()`).
 */
export class HealthService {
  readonly #store: HealthStatusStore;

  constructor(options: HealthServiceOptions = {}) {
    this.#store = new HealthStatusStore(options.statuses ?? { '': 'SERVING' });
  }

  /** Sets the status of `service` ("" = the whole server); Watch callers see the change. */
  setStatus(service: string, status: ServingStatusName): void {
    if (!Object.hasOwn(ServingStatus, status) || status === 'SERVICE_UNKNOWN') {
      throw new TypeError(`serving status must be UNKNOWN, SERVING or NOT_SERVING, not ${JSON.stringify(status)}`);
    }
    this.#store.set(service, status);
  }

  /** The status of `service`, or undefined when it has none (Check answers NOT_FOUND). */
  getStatus(service: string): ServingStatusName | undefined {
    return this.#store.get(service);
  }

  /** Forgets `service`: Check answers NOT_FOUND, Watch callers see SERVICE_UNKNOWN. */
  clearStatus(service: string): void {
    this.#store.delete(service);
  }

  /** Every service with a status. */
  statuses(): Record<string, ServingStatusName> {
    return Object.fromEntries(this.#store.entries());
  }

  /**
   * Marks every service NOT_SERVING and ends every Watch call (clients
   * reconnect elsewhere). `addHealthService` calls it when the server starts closing.
   */
  shutdown(): void {
    this.#store.shutdown();
  }

  /** Lets Watch calls run again after `shutdown()`. */
  resume(): void {
    this.#store.resume();
  }

  /** The grpc.health.v1.Health methods, for `server.registerMethod`. */
  methods(): MethodDefinition[] {
    const root = loadPackageProto(HEALTH_PROTO);
    const service = root.lookupService(HEALTH_SERVICE_NAME);
    const request = root.lookupType('grpc.health.v1.HealthCheckRequest');
    const response = root.lookupType('grpc.health.v1.HealthCheckResponse');
    const listRequest = root.lookupType('grpc.health.v1.HealthListRequest');
    const listResponse = root.lookupType('grpc.health.v1.HealthListResponse');
    const descriptors = lazyServiceDescriptors(service, { baseDir: packageProtoDir() });
    const codec = (req: protobuf.Type, res: protobuf.Type) => ({
      deserialize: (bytes: Uint8Array) => req.toObject(req.decode(bytes), { defaults: true }),
      serialize: (message: unknown) => res.encode(res.fromObject(message as Record<string, unknown>)).finish(),
    });
    const store = this.#store;
    const path = (name: string): string => `/${HEALTH_SERVICE_NAME}/${name}`;
    return [
      withLazyDescriptors({
        path: path('Check'),
        requestStream: false,
        responseStream: false,
        ...codec(request, response),
        handler: (req: unknown): HealthCheckResponse => {
          const name = (req as HealthCheckRequest).service ?? '';
          const status = store.get(name);
          if (status === undefined) throw new GrpcError(Status.NOT_FOUND, `unknown service ${JSON.stringify(name)}`);
          return { status: ServingStatus[status] };
        },
      }, descriptors),
      withLazyDescriptors({
        path: path('List'),
        requestStream: false,
        responseStream: false,
        ...codec(listRequest, listResponse),
        handler: () => ({
          statuses: Object.fromEntries(store.entries().map(([name, status]) => [name, { status: ServingStatus[status] }])),
        }),
      }, descriptors),
      withLazyDescriptors({
        path: path('Watch'),
        requestStream: false,
        responseStream: true,
        ...codec(request, response),
        handler: (req: unknown, ctx: CallContext) => watch(store, (req as HealthCheckRequest).service ?? '', ctx.signal),
      }, descriptors),
    ];
  }
}

/** The current status at once, then one message per change, until cancel or shutdown. */
async function* watch(store: HealthStatusStore, service: string, signal: AbortSignal): AsyncGenerator<HealthCheckResponse> {
  let wake: (() => void) | undefined;
  let shutDown = store.isShutDown;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const unwatch = store.watch(service, poke, () => {
    shutDown = true;
    poke();
  });
  signal.addEventListener('abort', poke, { once: true });
  try {
    let last: number | undefined;
    for (;;) {
      const current = ServingStatus[store.get(service) ?? 'SERVICE_UNKNOWN'];
      if (current !== last) {
        last = current;
        yield { status: current };
        continue;
      }
      if (shutDown || signal.aborted) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    unwatch();
    signal.removeEventListener('abort', poke);
  }
}

export interface AddHealthServiceOptions extends HealthServiceOptions {
  /** Use this HealthService instead of a new one. */
  readonly health?: HealthService;
  /** Mark every service already on the server SERVING. Default true. */
  readonly markRegisteredServing?: boolean;
}

/**
 * Serves grpc.health.v1.Health on `server` and returns the HealthService to
 * update. When `server.close()` begins, every status turns NOT_SERVING and
 * Watch calls end, so they do not hold up the drain.
 */
export function addHealthService(server: GrpcServer, options: AddHealthServiceOptions = {}): HealthService {
  const health = options.health ?? new HealthService(options);
  if (options.markRegisteredServing ?? true) {
    for (const { name } of server.services()) if (health.getStatus(name) === undefined) health.setStatus(name, 'SERVING');
  }
  for (const def of health.methods()) server.registerMethod(def);
  server.onClose(() => health.shutdown());
  return health;
}
