/**
 * createRequestQueue: the public entry to the transport. It opens a backend
 * (Http.sys or the portable one), owns the handler list, runs every exchange
 * through the shared runner, and tracks in-flight exchanges for close().
 */
import { BackendUnavailableError, QueueClosedError } from './errors.js';
import { plainResponse, runExchange, type ExchangeContext, type ExchangeDone } from './exchange.js';
import { parseUrlPrefix } from './prefix.js';
import type {
  BackendExchange,
  BackendName,
  BackendOpenOptions,
  BackendQueue,
  CloseOptions,
  Handler,
  HostFacts,
  Logger,
  QueueStats,
  RequestQueue,
  RequestQueueOptions,
} from './types.js';

/** Default request body limit: none, as on Http.sys (long-lived streams must not be capped); `readBody()` has its own. */
export const DEFAULT_MAX_REQUEST_BODY_BYTES = Number.POSITIVE_INFINITY;
/** Default header block limit: 64 KiB. */
export const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;

const consoleLogger: Logger = {
  warn: (message, detail) => (detail === undefined ? console.warn(message) : console.warn(message, detail)),
  error: (message, detail) => (detail === undefined ? console.error(message) : console.error(message, detail)),
};

interface HttpSysModule {
  openHttpSysQueue(options: BackendOpenOptions): Promise<BackendQueue>;
}
interface NodeModule {
  openNodeQueue(options: BackendOpenOptions): Promise<BackendQueue>;
}

/** Which backend 'auto' means on this host. */
export function defaultBackend(): BackendName {
  return process.platform === 'win32' ? 'httpsys' : 'node';
}

async function openBackend(name: BackendName, options: BackendOpenOptions): Promise<BackendQueue> {
  if (name === 'node') {
    const mod = (await import('./node/index.js')) as NodeModule;
    return mod.openNodeQueue(options);
  }
  let mod: HttpSysModule;
  try {
    mod = (await import('./httpsys/index.js' as string)) as HttpSysModule;
  } catch (err) {
    throw new BackendUnavailableError(
      'httpsys',
      `the Http.sys backend could not be loaded (${err instanceof Error ? err.message : String(err)}); ` +
        "it needs Windows and the native addon; use backend: 'node' for the portable backend",
      { cause: err },
    );
  }
  if (typeof mod.openHttpSysQueue !== 'function') {
    throw new BackendUnavailableError('httpsys', 'the Http.sys backend module does not export openHttpSysQueue');
  }
  return mod.openHttpSysQueue(options);
}

/**
 * Open a request queue serving the given URL prefixes (Http.sys syntax).
 * On the portable backend a port 0 in a prefix picks a free port; `queue.urls`
 * then shows the bound port. Http.sys itself needs explicit ports.
 */
export async function createRequestQueue(options: RequestQueueOptions): Promise<RequestQueue> {
  if (options === null || typeof options !== 'object') throw new TypeError('createRequestQueue needs an options object');
  if (!Array.isArray(options.urls)) throw new TypeError('options.urls must be an array of URL prefixes');
  const requested = options.backend ?? 'auto';
  if (requested !== 'auto' && requested !== 'httpsys' && requested !== 'node') {
    throw new TypeError(`unknown backend ${JSON.stringify(requested)} (use 'auto', 'httpsys' or 'node')`);
  }
  const backendName: BackendName = requested === 'auto' ? defaultBackend() : requested;
  const mode = options.mode ?? 'create';
  if (mode !== 'create' && mode !== 'attach' && mode !== 'createOrAttach') {
    throw new TypeError(`unknown mode ${JSON.stringify(mode)} (use 'create', 'attach' or 'createOrAttach')`);
  }
  for (const url of options.urls) parseUrlPrefix(url, { allowPortZero: backendName === 'node' });
  const logger = options.logger ?? consoleLogger;
  // Backends see the limit the queue applies, so a backend default never differs from the queue's.
  const limits = { ...options.limits, maxRequestBodyBytes: options.limits?.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES };
  const backend = await openBackend(backendName, { ...options, mode, logger, limits });
  const queue = new Queue(backend, options, logger);
  backend.start((exchange) => queue.accept(exchange));
  return queue;
}

/** An exchange in flight; `finish` is set only while close() waits for it. */
class Running implements ExchangeDone {
  finish: (() => void) | undefined = undefined;
  constructor(
    readonly exchange: BackendExchange,
    private readonly set: Set<Running>,
  ) {}
  exchangeDone(): void {
    this.set.delete(this);
    this.finish?.();
  }
}

function finished(entry: Running): Promise<void> {
  return new Promise<void>((resolve) => {
    const previous = entry.finish;
    entry.finish = () => {
      previous?.();
      resolve();
    };
  });
}

class Queue implements RequestQueue {
  readonly backend: BackendName;
  readonly name: string | undefined;
  private readonly handlers: Handler[] = [];
  private readonly running = new Set<Running>();
  private readonly warned = new Set<string>();
  private readonly context: ExchangeContext;
  private closing: Promise<void> | undefined;

  constructor(private readonly inner: BackendQueue, options: RequestQueueOptions, private readonly logger: Logger) {
    this.backend = inner.backend;
    this.name = options.name;
    const limit = options.limits?.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES;
    if (!(limit >= 0)) throw new RangeError('limits.maxRequestBodyBytes must be a number >= 0');
    this.context = {
      handlers: this.handlers,
      logger,
      maxRequestBodyBytes: limit,
      warnOnce: (key, message) => {
        if (this.warned.has(key)) return;
        this.warned.add(key);
        this.logger.warn(message);
      },
    };
  }

  get urls(): readonly string[] {
    return this.inner.urls;
  }

  serve(handler: Handler): this {
    if (typeof handler !== 'function') throw new TypeError('serve() needs a handler function');
    this.handlers.push(handler);
    return this;
  }

  async addUrl(url: string): Promise<void> {
    if (this.closing) throw new QueueClosedError('the request queue is closing');
    parseUrlPrefix(url, { allowPortZero: this.backend === 'node' });
    await this.inner.addUrl(url);
  }

  async removeUrl(url: string): Promise<void> {
    await this.inner.removeUrl(url);
  }

  get hostFacts(): HostFacts {
    return { backend: this.backend, ...(this.inner.hostFacts?.() ?? {}) };
  }

  stats(): QueueStats {
    const connections = this.inner.connectionCount?.();
    return connections === undefined ? { inFlight: this.running.size } : { inFlight: this.running.size, connections };
  }

  /** Called by the backend for every received request. */
  accept(exchange: BackendExchange): void {
    const context: ExchangeContext = this.closing
      ? { ...this.context, handlers: [() => plainResponse(503, undefined, true)] }
      : this.context;
    // Counted before the handlers run, so a handler sees itself in stats().
    const entry = new Running(exchange, this.running);
    this.running.add(entry);
    runExchange(exchange, context, entry);
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options.graceful ?? 0);
    return this.closing;
  }

  private async shutdown(graceful: number): Promise<void> {
    if (!(graceful >= 0)) throw new RangeError('close({ graceful }) needs a number of milliseconds >= 0');
    await this.inner.stopAccepting().catch((err: unknown) => this.logger.error('stopping the queue failed', err));
    if (this.running.size > 0 && graceful > 0) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceful);
      });
      await Promise.race([Promise.all([...this.running].map(finished)), deadline]);
      clearTimeout(timer);
    }
    // Exchanges that arrived while stopping are included: keep going until none is left.
    while (this.running.size > 0) {
      const left = [...this.running];
      const done = Promise.all(left.map(finished));
      const reason = new QueueClosedError(
        graceful > 0 ? `the request queue closed after its ${graceful} ms grace period` : 'the request queue closed',
      );
      for (const r of left) {
        try {
          r.exchange.abort(reason);
        } catch (err) {
          this.logger.error('aborting an exchange failed', err);
        }
      }
      await done;
    }
    await this.inner.destroy();
  }
}
