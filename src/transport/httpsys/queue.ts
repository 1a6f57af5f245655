/**
 * A request queue on Http.sys: the process's server session, one URL group per
 * prefix bound to this queue, receives delivered as exchanges.
 */
import type {
  NativeBinding,
  NativeCapabilities,
  NativeRequest,
  NativeRequestQueue,
  NativeServerSession,
  NativeUrlGroup,
} from '../../native/types.js';
import { QueueClosedError } from '../errors.js';
import { parseUrlPrefix, samePrefix, type UrlPrefix } from '../prefix.js';
import type { BackendExchange, BackendOpenOptions, BackendQueue, HostFacts, Logger, QueueLimits } from '../types.js';
import { DisconnectWatcher } from './disconnects.js';
import { chunkedRequestBodies, httpSysHostFacts } from './host-facts.js';
import { HttpSysUnsupportedError, toHttpSysError } from './errors.js';
import { DEFAULT_BUFFERED_RESPONSE_LIMIT, DEFAULT_SENDS_IN_FLIGHT, WINE_BUFFERED_RESPONSE_LIMIT } from './response-sink.js';
import { HttpSysExchange, type ExchangeContext } from './server-request.js';
import { acquireServerSession } from './session.js';

/** Default request body limit (limits.maxRequestBodyBytes). */
export const DEFAULT_MAX_REQUEST_BODY_BYTES = 64 * 1024 * 1024;
/** Default header block limit (limits.maxHeaderBytes). */
export const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;

interface Registration {
  readonly url: string;
  readonly prefix: UrlPrefix;
  readonly context: number;
  readonly group: NativeUrlGroup;
}

function hostLabel(host: NativeCapabilities): string {
  return host.host === 'wine' ? `Wine ${host.wineVersion ?? ''}`.trim() : `Windows ${host.os.major}.${host.os.minor}.${host.os.build}`;
}

export class HttpSysQueue implements BackendQueue {
  readonly backend = 'httpsys' as const;
  private readonly registrations: Registration[] = [];
  private readonly contexts = new Map<number, string>();
  private nextContext = 1;
  private readonly inFlight = new Set<HttpSysExchange>();
  private readonly warned = new Set<string>();
  private readonly disconnects: DisconnectWatcher;
  private readonly exchangeContext: ExchangeContext;
  private accepting = true;
  /** Wine 8's http.sys does not decode chunked request bodies. */
  private readonly chunkedBodies: boolean;
  private started = false;
  private destroyed = false;
  private handleClosing = false;

  private constructor(
    private readonly binding: NativeBinding,
    readonly host: NativeCapabilities,
    private readonly queue: NativeRequestQueue,
    private readonly session: NativeServerSession,
    private readonly releaseSession: () => void,
    private readonly options: BackendOpenOptions,
    private readonly attachedOnly: boolean,
  ) {
    this.disconnects = new DisconnectWatcher(queue, host.disconnectNotification);
    this.chunkedBodies = chunkedRequestBodies(host);
    const limits = options.limits ?? {};
    this.exchangeContext = {
      queue,
      host,
      disconnects: this.disconnects,
      logger: options.logger,
      maxRequestBodyBytes: limits.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES,
      maxSendsInFlight: DEFAULT_SENDS_IN_FLIGHT,
      bufferLimit: host.host === 'wine' ? WINE_BUFFERED_RESPONSE_LIMIT : DEFAULT_BUFFERED_RESPONSE_LIMIT,
      queueClosing: () => this.handleClosing,
      onSettled: (exchange) => this.inFlight.delete(exchange),
    };
  }

  get urls(): readonly string[] {
    return this.attachedOnly ? [...this.options.urls] : this.registrations.map((r) => r.url);
  }

  /** The addon this queue runs on. */
  get native(): NativeBinding {
    return this.binding;
  }

  static async open(binding: NativeBinding, options: BackendOpenOptions): Promise<HttpSysQueue> {
    const logger = options.logger;
    const prefixes = options.urls.map((u) => parseUrlPrefix(u));
    const host = binding.capabilities();
    let mode = options.mode;
    let name = options.name;
    if (!host.namedQueues) {
      if (mode === 'attach') {
        throw new HttpSysUnsupportedError(
          `attaching to the request queue ${JSON.stringify(name ?? '')} needs named Http.sys queues, which ${hostLabel(host)} does not have`,
        );
      }
      if (name !== undefined) {
        logger.warn(`Http.sys: named queues are not supported on ${hostLabel(host)}; queue ${JSON.stringify(name)} is created unnamed`);
        name = undefined;
      }
      mode = 'create';
    }
    if (mode !== 'create' && name === undefined) {
      throw new TypeError(`mode '${mode}' needs a queue name`);
    }
    const { session, release } = acquireServerSession(binding);
    let queue: NativeRequestQueue;
    try {
      queue = new binding.RequestQueue({ ...(name !== undefined ? { name } : {}), mode });
    } catch (err) {
      release();
      throw toHttpSysError(err, name !== undefined ? `opening the request queue ${JSON.stringify(name)}` : 'creating a request queue');
    }
    const attachedOnly = !queue.created;
    if (attachedOnly && mode === 'createOrAttach' && prefixes.length > 0) {
      logger.warn(
        `Http.sys: attached to the existing queue ${JSON.stringify(name)}; its owner's URLs apply and ${prefixes.length} given URL(s) were not added`,
      );
    }
    const q = new HttpSysQueue(binding, host, queue, session, release, options, attachedOnly);
    try {
      if (queue.created) {
        q.applyQueueLimits(options.limits);
        for (const prefix of prefixes) q.register(prefix);
      }
    } catch (err) {
      await q.destroy();
      throw err;
    }
    return q;
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.options.logger.warn(message);
  }

  private applyQueueLimits(limits: QueueLimits | undefined): void {
    if (limits?.queueLength === undefined) return;
    if (!this.host.properties) {
      this.warnOnce('queueLength', `Http.sys: limits.queueLength is not supported on ${hostLabel(this.host)}; ignored`);
      return;
    }
    try {
      this.queue.setQueueLength(limits.queueLength);
    } catch (err) {
      throw toHttpSysError(err, 'setting the request queue length');
    }
  }

  private applyGroupLimits(group: NativeUrlGroup, limits: QueueLimits | undefined): void {
    const timeouts = limits?.timeouts;
    const hasTimeouts = timeouts !== undefined && Object.values(timeouts).some((v) => v !== undefined);
    if (!hasTimeouts && limits?.maxConnections === undefined) return;
    if (!this.host.properties) {
      if (hasTimeouts) this.warnOnce('timeouts', `Http.sys: limits.timeouts are not supported on ${hostLabel(this.host)}; ignored`);
      if (limits?.maxConnections !== undefined) {
        this.warnOnce('maxConnections', `Http.sys: limits.maxConnections is not supported on ${hostLabel(this.host)}; ignored`);
      }
      return;
    }
    try {
      if (hasTimeouts) group.setTimeouts({ ...timeouts });
      if (limits?.maxConnections !== undefined) group.setMaxConnections(limits.maxConnections);
    } catch (err) {
      throw toHttpSysError(err, 'setting URL group limits');
    }
  }

  private register(prefix: UrlPrefix): void {
    if (this.registrations.some((r) => samePrefix(r.prefix, prefix))) return;
    let group: NativeUrlGroup;
    try {
      group = this.session.createUrlGroup();
    } catch (err) {
      throw toHttpSysError(err, 'creating a URL group');
    }
    const context = this.nextContext++;
    try {
      group.bind(this.queue);
      this.applyGroupLimits(group, this.options.limits);
      group.addUrl(prefix.url, context);
    } catch (err) {
      try {
        group.close();
      } catch {
        // The group is being discarded either way.
      }
      throw toHttpSysError(err, `registering ${prefix.url}`);
    }
    this.contexts.set(context, prefix.url);
    this.registrations.push({ url: prefix.url, prefix, context, group });
  }

  private unregister(reg: Registration): void {
    const i = this.registrations.indexOf(reg);
    if (i >= 0) this.registrations.splice(i, 1);
    try {
      reg.group.removeUrl(reg.url);
    } finally {
      try {
        reg.group.close();
      } catch (err) {
        this.options.logger.warn(`Http.sys: closing the URL group of ${reg.url} failed`, toHttpSysError(err));
      }
    }
  }

  start(onExchange: (exchange: BackendExchange) => void): void {
    if (this.started) throw new Error('the queue has already started');
    if (this.destroyed) throw new Error('the queue is closed');
    this.started = true;
    this.queue.start((batch) => {
      for (const native of batch) this.deliver(native, onExchange);
    });
  }

  private deliver(native: NativeRequest, onExchange: (exchange: BackendExchange) => void): void {
    const prefix = this.contexts.get(native.urlContext) ?? this.options.urls[0] ?? '';
    let exchange: HttpSysExchange;
    try {
      exchange = new HttpSysExchange(native, prefix, this.exchangeContext);
    } catch (err) {
      this.options.logger.error('Http.sys: a request could not be read', err);
      this.answerDirect(native, 400, 'bad request\n');
      return;
    }
    this.inFlight.add(exchange);
    if (!this.accepting || this.destroyed) {
      this.refuse(exchange, 503, 'the service is shutting down\n');
      return;
    }
    if (!this.chunkedBodies && exchange.request.headers['transfer-encoding'] !== undefined) {
      // The host hands such a request over without its body; answering it would lose data.
      this.refuse(exchange, 501, 'chunked request bodies are not supported on this host; send Content-Length\n');
      return;
    }
    const limits = this.options.limits ?? {};
    if (exchange.request.headerBytes > (limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES)) {
      this.refuse(exchange, 431, 'request header fields too large\n');
      return;
    }
    try {
      onExchange(exchange);
    } catch (err) {
      this.options.logger.error('Http.sys: the exchange runner failed', err);
      exchange.response.reset(0x2);
    }
  }

  /** Answers an exchange the runner never sees. */
  private refuse(exchange: HttpSysExchange, status: number, message: string): void {
    const body = new TextEncoder().encode(message);
    const sink = exchange.response;
    void (async () => {
      try {
        await sink.head(
          status,
          undefined,
          [
            ['content-type', 'text/plain; charset=utf-8'],
            ['content-length', String(body.byteLength)],
            ['connection', 'close'],
          ],
          false,
        );
        await sink.write(body);
        await sink.end(undefined);
      } catch {
        sink.reset(0x2);
      }
    })();
  }

  private answerDirect(native: NativeRequest, status: number, message: string): void {
    const body = new TextEncoder().encode(message);
    const headers = ['content-type', 'text/plain; charset=utf-8', 'content-length', String(body.byteLength)];
    // On HTTP/2 a Connection field is malformed and DISCONNECT would take every other stream of the connection down.
    const close = !native.http2;
    try {
      this.queue
        .sendResponse(native.id, {
          status,
          headers: close ? [...headers, 'connection', 'close'] : headers,
          body: [body],
          ...(close ? { disconnect: true } : {}),
        })
        .catch(() => undefined);
    } catch (err) {
      this.options.logger.warn('Http.sys: answering an unreadable request failed', toHttpSysError(err));
    }
  }

  async addUrl(url: string): Promise<void> {
    if (this.destroyed || !this.accepting) throw new Error('the queue is closing');
    if (this.attachedOnly) throw new Error('a queue attached to another process\'s queue cannot add URLs');
    this.register(parseUrlPrefix(url));
  }

  async removeUrl(url: string): Promise<void> {
    const prefix = parseUrlPrefix(url);
    const reg = this.registrations.find((r) => samePrefix(r.prefix, prefix));
    if (reg === undefined) throw new Error(`${url} is not registered on this queue`);
    try {
      this.unregister(reg);
    } catch (err) {
      throw toHttpSysError(err, `removing ${url}`);
    }
  }

  async stopAccepting(): Promise<void> {
    if (!this.accepting) return;
    this.accepting = false;
    // Removing the URLs lets Http.sys route new requests elsewhere (another process's prefix) or answer them itself.
    for (const reg of [...this.registrations]) {
      try {
        this.unregister(reg);
      } catch (err) {
        this.options.logger.warn(`Http.sys: removing ${reg.url} failed`, toHttpSysError(err));
      }
    }
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.accepting = false;
    // Left-over exchanges are ended while the handle is still open (cancelled, or answered 503 where
    // the host cannot cancel), then the handle closes.
    for (const exchange of [...this.inFlight]) exchange.abort(new QueueClosedError());
    this.handleClosing = true;
    this.disconnects.close();
    try {
      await this.queue.close();
    } catch (err) {
      this.options.logger.warn('Http.sys: closing the request queue failed', toHttpSysError(err));
    }
    for (const reg of [...this.registrations]) {
      try {
        this.unregister(reg);
      } catch {
        // The queue is gone; the group is closed below regardless.
      }
    }
    this.inFlight.clear();
    this.releaseSession();
  }

  /** What this host can do beyond one exchange (see host-facts.ts). */
  hostFacts(): HostFacts {
    return httpSysHostFacts(this.host, this.exchangeContext.bufferLimit);
  }

  /** Exchanges received and not yet settled. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Reports the logger given at open (for the runner's diagnostics). */
  get logger(): Logger {
    return this.options.logger;
  }
}
