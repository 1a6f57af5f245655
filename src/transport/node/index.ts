/**
 * The portable backend: the transport contract on node:http and the package's own HTTP/2 engine,
 * on any OS. Prefixes use Http.sys syntax and routing rules; every queue of
 * the process with a prefix on a port shares one listener for that port.
 * Port 0 in a prefix (portable backend only) binds a free port; all port-0
 * prefixes given to one open call share that port.
 */
import { BackendUnavailableError } from '../errors.js';
import { formatUrlPrefix, parseUrlPrefix, samePrefix, type UrlPrefix } from '../prefix.js';
import type { BackendExchange, BackendOpenOptions, BackendQueue, HostFacts } from '../types.js';
import { acquireListener, type Listener, type RouteEntry } from './listener.js';

const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;

/** What the portable backend can do on any host. */
const NODE_HOST_FACTS: HostFacts = {
  /** HTTP/2 with prior knowledge on cleartext ports. */
  h2c: true,
  /** https:// prefixes (with the tls option). */
  tls: true,
  /** HTTP/2 over TLS, chosen by ALPN. */
  http2Tls: true,
  /** The request signal fires when the client disconnects. */
  clientAbortSignal: true,
  /** Request bodies with Transfer-Encoding: chunked. */
  chunkedRequestBodies: true,
  /** URLs no prefix matches get 404. */
  unmatchedUrl404: true,
  /** HTTP/1.1 accepts only the methods Node's parser knows (HTTP/2 accepts any token). */
  arbitraryMethodsHttp1: false,
  /** Port 0 in a prefix picks a free port. */
  portZero: true,
  /** A reset on HTTP/1.x drops the connection. */
  dropConnection: true,
  /** The status oversized request headers get (0: the connection closes without an answer). */
  oversizedHeaderStatus: 431,
  /** Request bodies reach the handler as they arrive (pulled, not buffered whole first). */
  largeRequestBodies: true,
  /** Broken framing (duplicate Content-Length, bad chunk sizes) gets 400. */
  strictRequestParsing: true,
  /** Response bodies are streamed. */
  streamingResponses: true,
  /** Prefix paths match regardless of case, as on Http.sys. */
  caseInsensitivePaths: true,
  /** Strong wildcards are tried before host-specific prefixes, as on Http.sys. */
  strongWildcardFirst: true,
};

interface Registration {
  readonly given: string;
  readonly prefix: UrlPrefix;
  readonly listener: Listener;
  readonly entry: RouteEntry;
}

export async function openNodeQueue(options: BackendOpenOptions): Promise<BackendQueue> {
  if (options.mode === 'attach') {
    throw new BackendUnavailableError('node', "the portable backend cannot attach to another process's queue (mode 'attach' needs Http.sys)");
  }
  const queue = new NodeQueue(options);
  try {
    for (const url of options.urls) await queue.addUrl(url);
  } catch (err) {
    await queue.destroy();
    throw err;
  }
  return queue;
}

class NodeQueue implements BackendQueue {
  readonly backend = 'node' as const;
  private readonly registrations: Registration[] = [];
  private onExchange: ((exchange: BackendExchange) => void) | undefined;
  private readonly pending: BackendExchange[] = [];
  private readonly listeners = new Set<Listener>();
  private zeroPort: number | undefined;
  private accepting = true;

  constructor(private readonly options: BackendOpenOptions) {}

  get urls(): readonly string[] {
    return this.registrations.map((r) => r.entry.prefixUrl);
  }

  start(onExchange: (exchange: BackendExchange) => void): void {
    this.onExchange = onExchange;
    for (const e of this.pending.splice(0)) onExchange(e);
  }

  private deliver(exchange: BackendExchange): void {
    if (this.onExchange) this.onExchange(exchange);
    else this.pending.push(exchange);
  }

  async addUrl(url: string): Promise<void> {
    if (!this.accepting) throw new Error('the queue is closing');
    const parsed = parseUrlPrefix(url, { allowPortZero: true });
    const port = parsed.port === 0 && this.zeroPort !== undefined ? this.zeroPort : parsed.port;
    const prefix: UrlPrefix = { ...parsed, port };
    for (const r of this.registrations) {
      if (samePrefix(r.prefix, prefix)) throw new Error(`the prefix ${url} is already registered on this queue`);
    }
    const listener = await acquireListener(
      {
        scheme: prefix.scheme,
        port: prefix.port,
        ...(this.options.tls ? { tls: this.options.tls } : {}),
        maxHeaderBytes: this.options.limits?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
        logger: this.options.logger,
        ...(this.options.limits?.timeouts ? { timeouts: this.options.limits.timeouts } : {}),
        ...(this.options.limits?.maxConnections !== undefined ? { maxConnections: this.options.limits.maxConnections } : {}),
      },
      this,
    );
    this.listeners.add(listener);
    if (parsed.port === 0) this.zeroPort = listener.port;
    const bound: UrlPrefix = { ...prefix, port: listener.port };
    const entry: RouteEntry = {
      prefix: bound,
      owner: this,
      prefixUrl: parsed.port === 0 ? formatUrlPrefix(bound) : url,
      deliver: (exchange) => this.deliver(exchange),
    };
    // Another queue of this process may hold the same prefix: Http.sys refuses that (ERROR_ALREADY_EXISTS).
    if (listener.hasPrefix(bound)) {
      if (!this.registrations.some((r) => r.listener === listener)) {
        this.listeners.delete(listener);
        await listener.release(this);
      }
      throw new Error(`the prefix ${url} is already registered by another queue in this process (Http.sys error 183)`);
    }
    listener.addRoute(entry);
    this.registrations.push({ given: url, prefix: bound, listener, entry });
  }

  async removeUrl(url: string): Promise<void> {
    const parsed = parseUrlPrefix(url, { allowPortZero: true });
    const i = this.registrations.findIndex(
      (r) => r.given === url || r.entry.prefixUrl === url || samePrefix(r.prefix, parsed),
    );
    if (i < 0) throw new Error(`the prefix ${url} is not registered on this queue`);
    const [reg] = this.registrations.splice(i, 1);
    reg!.listener.removeRoutes((r) => r === reg!.entry);
  }

  async stopAccepting(): Promise<void> {
    this.accepting = false;
    for (const l of this.listeners) {
      l.removeRoutes((r) => r.owner === this);
      l.quiesceIfUnused();
    }
  }

  async destroy(): Promise<void> {
    this.accepting = false;
    await Promise.all([...this.listeners].map((l) => l.release(this)));
    this.listeners.clear();
  }

  hostFacts(): HostFacts {
    return NODE_HOST_FACTS;
  }

  connectionCount(): number {
    let n = 0;
    for (const l of this.listeners) n += l.connectionCount();
    return n;
  }
}
