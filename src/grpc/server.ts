/**
 * The gRPC server: a transport Handler that routes POST /pkg.Service/Method to
 * registered methods and runs each call to a status.
 */
import type protobuf from 'protobufjs';
import type { Handler, HandlerResult, Logger, RequestQueue, ServerRequest } from '../transport/types.js';
import { Call, type CallConfig, type HeaderRecord } from './call.js';
import { isGrpcJsServiceDefinition } from './compat/definition.js';
import { ENCODINGS, isEncoding, type Encoding } from './compression.js';
import { GrpcError } from './error.js';
import { encodeGrpcMessage } from './message-encoding.js';
import { checkMetadataHeaders, checkMetadataRecord, type MetadataLimits } from './metadata.js';
import { methodsFromService } from './protobuf-service.js';
import { Status } from './status.js';
import { parseTimeout, setLongTimeout } from './timeout.js';
import { runClientStream, runServerStream, runUnary, type CallHandler } from './unary-runner.js';
import type {
  CallOutcome,
  CloseServerOptions,
  GrpcServerOptions,
  Interceptor,
  MethodDefinition,
  ServiceImplementation,
  ServiceInfo,
} from './types.js';

const KIND_UNARY = 0;
const KIND_SERVER_STREAM = 1;
const KIND_CLIENT_STREAM = 2;
const KIND_BIDI = 3;

interface Route {
  readonly def: MethodDefinition;
  readonly kind: number;
  readonly service: string;
  readonly name: string;
}

interface ServiceEntry {
  readonly methods: string[];
  /** Definitions whose descriptors have not been read yet (they may be built lazily). */
  pending: MethodDefinition[];
  fileDescriptorProtos: readonly Uint8Array[];
}

/** The service's descriptors: those of its first definition that has any (read only when asked for). */
function serviceDescriptors(entry: ServiceEntry): readonly Uint8Array[] {
  if (entry.fileDescriptorProtos.length === 0) {
    for (let i = 0; i < entry.pending.length; i++) {
      const protos = entry.pending[i]!.fileDescriptorProtos;
      if (protos !== undefined && protos.length > 0) {
        entry.fileDescriptorProtos = protos;
        break;
      }
    }
  }
  if (entry.fileDescriptorProtos.length > 0) entry.pending = [];
  return entry.fileDescriptorProtos;
}

/** A grpc-js ServiceDefinition: method entries carrying path, stream flags and (de)serializers. */
export interface GrpcJsServiceDefinitionLike {
  readonly [method: string]: {
    readonly path: string;
    readonly requestStream: boolean;
    readonly responseStream: boolean;
    readonly requestDeserialize: (bytes: Buffer) => unknown;
    readonly responseSerialize: (value: never) => Buffer;
  };
}

/** Turns a grpc-js service definition and implementation into method definitions (installed by the compat module). */
export type GrpcJsServiceAdapter = (definition: GrpcJsServiceDefinitionLike, implementation: object) => MethodDefinition[];

let grpcJsAdapter: GrpcJsServiceAdapter | undefined;

/** @internal Installed by the grpc-js compatibility module. */
export function setGrpcJsServiceAdapter(adapter: GrpcJsServiceAdapter): void {
  grpcJsAdapter = adapter;
}

const PATH = /^\/([^/]+)\/([^/]+)$/;
const consoleLogger: Logger = {
  warn: (m, d) => (d === undefined ? console.warn(m) : console.warn(m, d)),
  error: (m, d) => (d === undefined ? console.error(m) : console.error(m, d)),
};

const NO_TRAILERS_MESSAGE =
  'native gRPC needs HTTP trailers, which this transport cannot send here (Http.sys before Windows Server 2022, ' +
  'or HTTP/1.1 through Http.sys); use gRPC-Web (content-type application/grpc-web) instead';

function trailersOnly(code: Status, message: string, extra?: HeaderRecord): HandlerResult {
  const headers: HeaderRecord = { 'content-type': 'application/grpc', ...extra, 'grpc-status': String(code) };
  if (message) headers['grpc-message'] = encodeGrpcMessage(message);
  return { status: 200, headers };
}

function serviceInfo(name: string, entry: ServiceEntry): ServiceInfo {
  const info = { name, methods: entry.methods.slice() };
  return Object.defineProperty(info, 'fileDescriptorProtos', {
    get: () => serviceDescriptors(entry),
    enumerable: true,
    configurable: true,
  }) as ServiceInfo;
}

export class GrpcServer {
  readonly #routes = new Map<string, Route>();
  #lastRoute: Route | undefined;
  readonly #services = new Map<string, ServiceEntry>();
  readonly #interceptors: readonly Interceptor[];
  readonly #config: CallConfig;
  readonly #accept: ReadonlySet<Encoding>;
  readonly #sendEncoding: Encoding;
  readonly #metadataLimits: MetadataLimits;
  readonly #passUnknown: boolean;
  readonly #logger: Logger;
  /**
   * Calls that have started and not ended, linked through the calls themselves:
   * with many calls starting and ending, a Set's table kept being rebuilt.
   */
  #activeHead: Call | undefined;
  #activeCount = 0;
  #closing = false;
  #closed: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  #closeListeners: (() => void)[] = [];
  #warnedNoTrailers = false;

  constructor(options: GrpcServerOptions = {}) {
    const maxReceive = options.maxReceiveMessageLength ?? 4 * 1024 * 1024;
    this.#logger = options.logger ?? consoleLogger;
    const accept = new Set<Encoding>(['identity', ...(options.compression?.accept ?? ['gzip', 'deflate'])]);
    this.#accept = accept;
    this.#sendEncoding = options.compression?.send ?? 'identity';
    this.#metadataLimits = { maxSize: options.maxMetadataSize ?? 8 * 1024 };
    this.#passUnknown = options.passUnknownMethods ?? false;
    this.#interceptors = options.interceptors ?? [];
    const acceptHeader = ENCODINGS.filter((e) => accept.has(e)).join(',');
    this.#config = {
      maxReceive,
      maxSend: options.maxSendMessageLength ?? 2 ** 31 - 1,
      maxDecompressed: options.maxDecompressedLength ?? maxReceive,
      acceptHeader,
      plainHeaders: Object.freeze({ 'content-type': 'application/grpc', 'grpc-accept-encoding': acceptHeader }),
      minCompressBytes: options.compression?.minBytes ?? 0,
      logger: this.#logger,
      highWater: 64 * 1024,
      onEnd: (call) => this.#onEnd(call),
    };
  }

  /**
   * Add a service: a protobufjs Service with handlers keyed by method name, or a
   * grpc-js ServiceDefinition (from @grpc/proto-loader) with grpc-js style handlers.
   */
  addService(service: protobuf.Service, implementation: ServiceImplementation): this;
  addService(definition: GrpcJsServiceDefinitionLike, implementation: object): this;
  addService(service: protobuf.Service | GrpcJsServiceDefinitionLike, implementation: object): this {
    let defs: MethodDefinition[];
    if (isGrpcJsServiceDefinition(service)) {
      if (grpcJsAdapter === undefined) {
        throw new Error('grpc-js service definitions need the compatibility module: import it from the package entry');
      }
      defs = grpcJsAdapter(service, implementation);
    } else {
      defs = methodsFromService(service as protobuf.Service, implementation as ServiceImplementation);
    }
    for (const d of defs) this.#checkNew(d);
    for (const d of defs) this.registerMethod(d);
    return this;
  }

  /** Register one method (both service styles end up here). */
  registerMethod(def: MethodDefinition): this {
    this.#checkNew(def);
    const m = PATH.exec(def.path)!;
    const service = m[1]!;
    const name = m[2]!;
    const kind = (def.requestStream ? 2 : 0) | (def.responseStream ? 1 : 0);
    this.#routes.set(def.path, { def: def as MethodDefinition, kind, service, name });
    let entry = this.#services.get(service);
    if (!entry) this.#services.set(service, (entry = { methods: [], pending: [], fileDescriptorProtos: [] }));
    entry.methods.push(name);
    if (entry.fileDescriptorProtos.length === 0) entry.pending.push(def);
    return this;
  }

  #checkNew(def: MethodDefinition): void {
    if (!PATH.test(def.path)) throw new TypeError(`invalid method path ${JSON.stringify(def.path)}: expected "/package.Service/Method"`);
    if (typeof def.handler !== 'function') throw new TypeError(`no handler function for ${def.path}`);
    if (this.#routes.has(def.path)) throw new Error(`method ${def.path} is already registered`);
  }

  /** The registered services, their methods and descriptors (built when `fileDescriptorProtos` is first read). */
  services(): ServiceInfo[] {
    return [...this.#services].map(([name, e]) => serviceInfo(name, e));
  }

  /** Serve this server's methods on a request queue. */
  listen(queue: RequestQueue): this {
    queue.serve(this.handler);
    return this;
  }

  /**
   * Stop taking calls: new ones get UNAVAILABLE, running ones may finish for
   * `graceful` milliseconds, then are cancelled. Resolves when none is left.
   * (The queue itself stays open; close it separately.)
   */
  close(options: CloseServerOptions = {}): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#closing = true;
    const graceful = options.graceful ?? 5000;
    let drain!: () => void;
    this.#closed = new Promise<void>((resolve) => {
      drain = () => {
        if (this.#activeCount === 0) return resolve();
        let clear: (() => void) | undefined;
        this.#drained = () => {
          clear?.();
          resolve();
        };
        const cancelAll = (): void => {
          const reason = new GrpcError(Status.UNAVAILABLE, 'the server is shutting down');
          const calls: Call[] = [];
          for (let c = this.#activeHead; c !== undefined; c = c.nextActive) calls.push(c);
          for (const call of calls) call.cancel(reason);
        };
        if (graceful <= 0) cancelAll();
        else if (Number.isFinite(graceful)) clear = setLongTimeout(cancelAll, graceful);
      };
    });
    // Listeners run first (a listener calling close() again gets the same promise).
    const listeners = this.#closeListeners;
    this.#closeListeners = [];
    for (const listener of listeners) {
      try {
        listener();
      } catch (e) {
        this.#logger.error('gRPC close listener failed', e);
      }
    }
    drain();
    return this.#closed;
  }

  /**
   * Run `listener` once when `close()` begins (before running calls drain), so
   * long-lived calls such as watches can end themselves. Runs at once when
   * closing has already begun. Returns a function that removes it.
   */
  onClose(listener: () => void): () => void {
    if (this.#closing) {
      listener();
      return () => undefined;
    }
    this.#closeListeners.push(listener);
    return () => {
      const i = this.#closeListeners.indexOf(listener);
      if (i !== -1) this.#closeListeners.splice(i, 1);
    };
  }

  /** Calls that have started and not yet ended. */
  get activeCalls(): number {
    return this.#activeCount;
  }

  #onEnd(call: Call): void {
    const prev = call.prevActive;
    const next = call.nextActive;
    if (prev !== undefined) prev.nextActive = next;
    else if (this.#activeHead === call) this.#activeHead = next;
    else return; // not in the list
    if (next !== undefined) next.prevActive = prev;
    call.prevActive = call.nextActive = undefined;
    this.#activeCount--;
    if (this.#closing && this.#activeCount === 0) this.#drained?.();
  }

  /** The route of `path`; the last one found is checked first (calls usually repeat a method). */
  #route(path: string): Route | undefined {
    const last = this.#lastRoute;
    if (last !== undefined && last.def.path === path) return last;
    const route = this.#routes.get(path);
    if (route !== undefined) this.#lastRoute = route;
    return route;
  }

  /** The transport handler. Requests that are not native gRPC give `undefined` (for the queue's next handler). */
  readonly handler: Handler = (request) => {
    const ct = request.headers['content-type'];
    const route = this.#route(request.path);
    if (ct !== 'application/grpc' && (ct === undefined || !ct.startsWith('application/grpc'))) {
      if (route === undefined || request.method !== 'POST') return undefined;
      // HTTP 415 for any client, with the status fields a gRPC client reads from
      // a Trailers-Only answer as well.
      return {
        status: 415,
        headers: {
          'content-type': 'text/plain; charset=utf-8',
          'grpc-status': String(Status.INVALID_ARGUMENT),
          'grpc-message': encodeGrpcMessage(`invalid gRPC request content-type ${JSON.stringify(ct ?? '')}`),
        },
        body: `${request.path} is a gRPC method: send content-type application/grpc\n`,
      };
    }
    if (ct.length > 16) {
      const c = ct.charCodeAt(16);
      if (c !== 0x2b /* + */ && c !== 0x3b /* ; */) return undefined; // application/grpc-web and others
      if (c === 0x2b && !/^\+proto\s*(;|$)/.test(ct.slice(16))) {
        return trailersOnly(Status.UNIMPLEMENTED, `message codec ${ct.slice(17).split(';')[0]} is not supported; use application/grpc+proto`);
      }
    }
    if (request.method !== 'POST') {
      return trailersOnly(Status.UNIMPLEMENTED, `gRPC calls use POST, not ${request.method}`);
    }
    if (route === undefined) {
      if (this.#passUnknown) return undefined;
      const m = PATH.exec(request.path);
      const known = m !== null && this.#services.has(m[1]!);
      return trailersOnly(
        Status.UNIMPLEMENTED,
        known ? `unknown method ${m![2]} in service ${m![1]}` : m ? `unknown service ${m[1]}` : `unknown path ${request.path}`,
      );
    }
    if (this.#closing) return trailersOnly(Status.UNAVAILABLE, 'the server is shutting down');
    if (!request.capabilities.trailers) {
      if (!this.#warnedNoTrailers) {
        this.#warnedNoTrailers = true;
        this.#logger.warn(`gRPC: ${NO_TRAILERS_MESSAGE} (first refused call: ${request.path})`);
      }
      return trailersOnly(Status.UNIMPLEMENTED, NO_TRAILERS_MESSAGE);
    }
    return this.#start(request, route);
  };

  #start(request: ServerRequest, route: Route): HandlerResult | Promise<HandlerResult> {
    const headers = request.headers;
    let hasMetadata: boolean;
    let timeoutMs = -1;
    let encoding: Encoding = 'identity';
    try {
      const enc = headers['grpc-encoding'];
      if (enc !== undefined && enc !== 'identity') {
        const e = enc.trim().toLowerCase();
        if (!isEncoding(e) || !this.#accept.has(e)) {
          return trailersOnly(
            Status.UNIMPLEMENTED,
            `grpc-encoding ${JSON.stringify(enc)} is not supported (supported: ${this.#config.acceptHeader})`,
            { 'grpc-accept-encoding': this.#config.acceptHeader },
          );
        }
        encoding = e;
      }
      const timeout = headers['grpc-timeout'];
      if (timeout !== undefined) timeoutMs = parseTimeout(timeout);
      // Checked now (bad metadata ends the call before the handler runs); built when first read.
      // A call that stays open checks the joined record when it can (reading the
      // lines may make the transport build and keep them for the call's life);
      // a unary call reads the lines, which is quicker than walking the record.
      let count = route.kind === KIND_UNARY ? -1 : checkMetadataRecord(headers, this.#metadataLimits);
      if (count < 0) count = checkMetadataHeaders(request.rawHeaders, this.#metadataLimits);
      hasMetadata = count > 0;
    } catch (e) {
      const err = e instanceof GrpcError ? e : new GrpcError(Status.INTERNAL, 'malformed request headers');
      return trailersOnly(err.code, err.message);
    }
    const call = new Call(
      this.#config,
      route,
      request,
      hasMetadata,
      encoding,
      this.#sendEncoding,
      timeoutMs >= 0 ? Date.now() + timeoutMs : -1,
    );
    const response = call.responsePromise();
    const head = this.#activeHead;
    if (head !== undefined) {
      head.prevActive = call;
      call.nextActive = head;
    }
    this.#activeHead = call;
    this.#activeCount++;
    if (timeoutMs >= 0) {
      call.armDeadline(timeoutMs);
    }
    if (this.#interceptors.length === 0) run(call, route);
    else this.#intercept(call, route);
    return response;
  }

  #intercept(call: Call, route: Route): void {
    const chain = this.#interceptors;
    let started = false;
    void call.outcome; // outcome tracking must exist before the call can end
    // Each `next()` resolves with the outcome, also when an inner interceptor
    // short-circuits by throwing: that error becomes the call's status.
    const invoke = (i: number): Promise<CallOutcome> => {
      if (i === chain.length) {
        if (!started) {
          started = true;
          if (!call.done) run(call, route);
        }
        return call.outcome;
      }
      let step: Promise<unknown>;
      try {
        step = Promise.resolve(chain[i]!(call, () => invoke(i + 1)));
      } catch (e) {
        step = Promise.reject(e);
      }
      return step.then(
        () => {
          if (!started && !call.done) {
            call.fail(new GrpcError(Status.INTERNAL, 'an interceptor returned without calling next()'));
          }
          return call.outcome;
        },
        (e: unknown) => {
          if (!call.done) call.fail(e);
          else if (!(e instanceof GrpcError)) this.#logger.error(`gRPC interceptor failed after ${call.method} ended`, e);
          return call.outcome;
        },
      );
    };
    void invoke(0);
  }
}

function run(call: Call, route: Route): void {
  const handler = route.def.handler as CallHandler;
  // Each runner ends the call itself when it fails: no catch handler per call.
  switch (route.kind) {
    case KIND_UNARY:
      runUnary(call, handler);
      return;
    case KIND_SERVER_STREAM:
      runServerStream(call, handler);
      return;
    case KIND_CLIENT_STREAM:
      runClientStream(call, handler);
      return;
    case KIND_BIDI:
    default:
      // No async frame here: a held bidi call is driven by callbacks (Call.pump).
      try {
        call.pump(handler(call.readMany(), call));
      } catch (e) {
        call.fail(e);
      }
  }
}
