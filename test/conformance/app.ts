/**
 * The server side of the conformance suite: one set of endpoints installed on
 * any RequestQueue, whatever its backend. Runs in Linux node and in Windows
 * node.exe (under Wine), so it uses only portable Node APIs.
 *
 * Endpoints live under the queue's prefix: `<prefix>caps`, `<prefix>echo`, ...
 * (see `route` below). Query parameters shape each answer.
 */
import { createHash } from 'node:crypto';
import {
  Http2ErrorCode,
  HttpError,
  StreamResetError,
  parseUrlPrefix,
  readBody,
  type Handler,
  type HandlerResult,
  type Logger,
  type RequestQueue,
  type ServerRequest,
} from '../../src/index.js';
import { extraEndpoints } from './extensions.js';

/** A logger that counts what it was given (the suite checks "logged once"). */
export interface CountingLogger extends Logger {
  readonly counts: { errors: number; warns: number };
  readonly lines: string[];
}

export function countingLogger(echo: (line: string) => void = () => undefined): CountingLogger {
  const counts = { errors: 0, warns: 0 };
  const lines: string[] = [];
  const keep = (line: string): void => {
    lines.push(line);
    if (lines.length > 200) lines.shift();
    echo(line);
  };
  return {
    counts,
    lines,
    warn(message, detail) {
      counts.warns++;
      keep(`warn: ${message}${detail instanceof Error ? ` (${detail.name})` : ''}`);
    },
    error(message, detail) {
      counts.errors++;
      keep(`error: ${message}${detail instanceof Error ? ` (${detail.name}: ${detail.message})` : ''}`);
    },
  };
}

/** What happened to one tagged exchange (tag = `id` query parameter). */
export interface ExchangeEvent {
  started: boolean;
  finished: boolean;
  /** signal.reason when the exchange's signal fired. */
  abort?: { name: string; message: string; code?: number };
  /** The error the request body iterator threw, if any. */
  bodyError?: { name: string; message: string };
  bodyBytes?: number;
}

function describeReason(reason: unknown): { name: string; message: string; code?: number } {
  if (reason instanceof Error) {
    const code = (reason as Error & { code?: unknown }).code;
    return typeof code === 'number' ? { name: reason.name, message: reason.message, code } : { name: reason.name, message: reason.message };
  }
  return { name: typeof reason, message: String(reason) };
}

class EventLog {
  private readonly entries = new Map<string, ExchangeEvent>();
  private readonly waiters = new Set<() => void>();

  update(id: string, patch: Partial<ExchangeEvent>): void {
    const e = this.entries.get(id) ?? { started: false, finished: false };
    Object.assign(e, patch);
    this.entries.set(id, e);
    if (this.entries.size > 10_000) this.entries.delete(this.entries.keys().next().value as string);
    for (const w of [...this.waiters]) w();
  }

  get(id: string): ExchangeEvent | undefined {
    return this.entries.get(id);
  }

  all(): Record<string, ExchangeEvent> {
    return Object.fromEntries(this.entries);
  }

  /** Wait until `test` holds for the entry, or the signal fires / the time runs out. */
  async waitFor(id: string, test: (e: ExchangeEvent) => boolean, ms: number, signal: AbortSignal): Promise<ExchangeEvent | undefined> {
    const check = (): ExchangeEvent | undefined => {
      const e = this.entries.get(id);
      return e && test(e) ? e : undefined;
    };
    const now = check();
    if (now) return now;
    return new Promise((resolve) => {
      const done = (value: ExchangeEvent | undefined): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const waiter = (): void => {
        const e = check();
        if (e) done(e);
      };
      const onAbort = (): void => done(undefined);
      const timer = setTimeout(() => done(undefined), ms);
      this.waiters.add(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** A response body pattern the client can check without a copy: byte i of the stream is i % 251. */
const PATTERN = (() => {
  const b = new Uint8Array(251 * 261);
  for (let i = 0; i < b.length; i++) b[i] = i % 251;
  return b;
})();

async function* patternBody(bytes: number): AsyncGenerator<Uint8Array> {
  let left = bytes;
  while (left > 0) {
    const n = Math.min(left, PATTERN.length);
    yield n === PATTERN.length ? PATTERN : PATTERN.subarray(0, n);
    left -= n;
  }
}

const ENDPOINTS = new Set([
  'caps', 'inspect', 'echo', 'sink', 'limited', 'source', 'status', 'headers', 'trailers', 'reset', 'body-error',
  'throw', 'bad-status', 'pass', 'wait', 'event', 'barrier', 'stats', 'upgrade', '__control',
]);

function json(value: unknown, status = 200): HandlerResult {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}

function intParam(q: URLSearchParams, name: string, fallback: number): number {
  const v = q.get(name);
  if (v === null) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new HttpError(400, `query parameter ${name} must be a number >= 0`);
  return n;
}

export interface ConformanceAppOptions {
  /** Logger the queues were opened with, reported by `stats`. */
  readonly logger?: CountingLogger;
  /** Limits the queues were opened with (reported by `caps`). */
  readonly limits?: { readonly maxRequestBodyBytes?: number; readonly maxHeaderBytes?: number };
  /** Ask the process to close its queues (enables `<prefix>__control/close`). */
  readonly onCloseRequest?: (graceful: number) => void;
}

export interface ConformanceApp {
  readonly events: EventLog;
  /** Install the endpoints on a queue; `label` names the queue in answers. */
  install(queue: RequestQueue, label: string): void;
}

export function createConformanceApp(options: ConformanceAppOptions = {}): ConformanceApp {
  const events = new EventLog();
  const barriers = new Map<string, { count: number; release: Promise<void>; open: () => void }>();
  const prefixPaths = new Map<string, string>();

  const restOf = (request: ServerRequest): string => {
    let p = prefixPaths.get(request.prefix);
    if (p === undefined) {
      p = parseUrlPrefix(request.prefix, { allowPortZero: true }).path;
      prefixPaths.set(request.prefix, p);
    }
    const path = request.path;
    return path.length >= p.length ? path.slice(p.length) : '';
  };

  const tag = (request: ServerRequest, q: URLSearchParams): string | undefined => {
    const id = q.get('id');
    if (id === null) return undefined;
    events.update(id, { started: true });
    request.signal.addEventListener('abort', () => events.update(id, { abort: describeReason(request.signal.reason) }), {
      once: true,
    });
    return id;
  };

  async function countBody(request: ServerRequest, id: string | undefined, hash: boolean): Promise<{ bytes: number; sha256?: string }> {
    const h = hash ? createHash('sha256') : undefined;
    let bytes = 0;
    try {
      for await (const chunk of request.body) {
        bytes += chunk.byteLength;
        h?.update(chunk);
      }
    } catch (err) {
      if (id !== undefined) events.update(id, { bodyError: describeReason(err), bodyBytes: bytes });
      throw err;
    }
    if (id !== undefined) events.update(id, { bodyBytes: bytes });
    return h ? { bytes, sha256: h.digest('hex') } : { bytes };
  }

  function install(queue: RequestQueue, label: string): void {
    const handler: Handler = async (request): Promise<HandlerResult> => {
      const rest = restOf(request);
      // The endpoint is the first segment after the prefix that names one, so a
      // queue also answers for paths under a longer prefix routed to it ("deep/inspect").
      const segments = rest.toLowerCase().split('/');
      const name = segments.find((seg) => ENDPOINTS.has(seg) || seg in extraEndpoints) ?? segments[0]!;
      const q = new URLSearchParams(request.query);
      const extra = extraEndpoints[name];
      if (extra) return extra(request, q);
      switch (name) {
        case 'caps':
          return json({
            label,
            backend: queue.backend,
            hostFacts: queue.hostFacts,
            capabilities: request.capabilities,
            httpVersion: request.httpVersion,
            platform: process.platform,
            prefix: request.prefix,
            limits: options.limits ?? {},
            endpoints: Object.keys(extraEndpoints),
          });
        case 'inspect': {
          const id = tag(request, q);
          const body = await countBody(request, id, true);
          return json({
            label,
            method: request.method,
            url: request.url,
            path: request.path,
            query: request.query,
            host: request.host,
            headers: request.headers,
            rawHeaders: request.rawHeaders,
            httpVersion: request.httpVersion,
            prefix: request.prefix,
            secure: request.secure,
            remoteAddress: request.remoteAddress,
            localPort: request.localPort,
            bodyBytes: body.bytes,
            bodySha256: body.sha256,
          });
        }
        case 'echo': {
          const id = tag(request, q);
          let bytes = 0;
          const source = request.body;
          async function* counted(): AsyncGenerator<Uint8Array> {
            try {
              for await (const chunk of source) {
                bytes += chunk.byteLength;
                yield chunk;
              }
            } catch (err) {
              if (id !== undefined) events.update(id, { bodyError: describeReason(err), bodyBytes: bytes });
              throw err;
            }
            if (id !== undefined) events.update(id, { bodyBytes: bytes, finished: true });
          }
          const type = request.headers['content-type'];
          return {
            status: 200,
            headers: type ? { 'content-type': type } : {},
            body: counted(),
            ...(q.has('trailers') ? { trailers: () => ({ 'x-echo-bytes': String(bytes) }) } : {}),
          };
        }
        case 'sink': {
          const id = tag(request, q);
          return json(await countBody(request, id, q.has('hash')));
        }
        case 'limited': {
          const body = await readBody(request, intParam(q, 'max', 1024));
          return json({ bytes: body.byteLength });
        }
        case 'source': {
          const id = tag(request, q);
          const bytes = intParam(q, 'bytes', 0);
          const body = patternBody(bytes);
          if (id !== undefined) {
            return {
              status: 200,
              headers: { 'content-type': 'application/octet-stream' },
              body: (async function* () {
                yield* body;
                events.update(id, { finished: true });
              })(),
            };
          }
          return { status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes) }, body };
        }
        case 'status': {
          const code = intParam(q, 'code', 200);
          const reason = q.get('reason');
          return { status: code, ...(reason ? { reason } : {}), headers: { 'content-type': 'text/plain' }, body: q.get('body') ?? '' };
        }
        case 'headers':
          return {
            status: 200,
            headers: [
              ['X-Mixed-Case', 'Value'],
              ['x-repeated', 'one'],
              ['x-repeated', 'two'],
              ['set-cookie', 'a=1; Path=/'],
              ['set-cookie', 'b=2; Path=/'],
              ['content-type', 'text/plain'],
            ],
            body: 'headers',
          };
        case 'trailers': {
          let sent = 0;
          const chunks = [new TextEncoder().encode('first;'), new TextEncoder().encode('second')];
          return {
            status: 200,
            headers: { 'content-type': 'text/plain' },
            body: (async function* () {
              for (const c of chunks) {
                sent += c.byteLength;
                yield c;
              }
            })(),
            trailers: () => [
              ['x-trailer-bytes', String(sent)],
              ['x-trailer-list', 'a'],
              ['x-trailer-list', 'b'],
              ['grpc-status', '0'],
            ],
          };
        }
        case 'reset': {
          const code = intParam(q, 'code', Http2ErrorCode.CANCEL);
          const after = intParam(q, 'after', 0);
          if (after === 0) return { reset: code };
          return {
            status: 200,
            headers: { 'content-type': 'application/octet-stream' },
            body: (async function* () {
              yield* patternBody(after);
              throw new StreamResetError(code);
            })(),
          };
        }
        case 'body-error':
          return {
            status: 200,
            headers: { 'content-type': 'application/octet-stream' },
            body: (async function* () {
              yield* patternBody(intParam(q, 'after', 1024));
              throw new Error('response body generator failed (conformance)');
            })(),
          };
        case 'throw':
          throw new Error('handler failed with secret detail 7f3a (conformance)');
        case 'bad-status':
          return { status: 42, body: 'x' };
        case 'pass':
          return undefined; // the second handler answers
        case 'wait': {
          // Hold the exchange until `ms` passes (then 200), or until its signal fires.
          const id = tag(request, q);
          const ms = intParam(q, 'ms', 3_600_000);
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, ms);
            request.signal.addEventListener('abort', () => {
              clearTimeout(timer);
              resolve();
            }, { once: true });
          });
          if (request.signal.aborted) return undefined;
          if (id !== undefined) events.update(id, { finished: true });
          return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'waited' };
        }
        case 'event': {
          // Long-poll: the event of `id` once it has `want` (started | finished | abort | body).
          const id = q.get('id') ?? '';
          const want = q.get('want') ?? 'started';
          const test = (e: ExchangeEvent): boolean =>
            want === 'abort' ? e.abort !== undefined : want === 'finished' ? e.finished : want === 'body' ? e.bodyError !== undefined || e.bodyBytes !== undefined : e.started;
          const e = await events.waitFor(id, test, intParam(q, 'ms', 20_000), request.signal);
          return e ? json(e) : json({ missing: true, id, want, seen: events.get(id) ?? null }, 404);
        }
        case 'barrier': {
          // Answers only once `n` requests with the same id are inside (proves they are concurrent).
          const id = q.get('id') ?? '';
          const n = intParam(q, 'n', 1);
          let b = barriers.get(id);
          if (!b) {
            let open!: () => void;
            const release = new Promise<void>((r) => (open = r));
            b = { count: 0, release, open };
            barriers.set(id, b);
          }
          b.count++;
          if (b.count >= n) {
            b.open();
            barriers.delete(id);
          }
          await Promise.race([
            b.release,
            new Promise<void>((r) => request.signal.addEventListener('abort', () => r(), { once: true })),
          ]);
          return json({ ok: true });
        }
        case 'stats': {
          const s = queue.stats();
          return json({
            label,
            inFlight: s.inFlight - 1, // without this request
            connections: s.connections ?? null,
            rss: process.memoryUsage().rss,
            logged: options.logger ? { ...options.logger.counts } : null,
          });
        }
        case 'upgrade':
          return {
            status: 101,
            headers: { connection: 'upgrade', upgrade: request.headers['upgrade'] ?? 'conformance-echo' },
            upgrade: (socket) => {
              socket.on('error', () => undefined);
              socket.pipe(socket);
            },
          };
        case '__control': {
          if (!options.onCloseRequest || rest !== '__control/close') return undefined;
          const graceful = intParam(q, 'graceful', 0);
          setImmediate(() => options.onCloseRequest!(graceful));
          return { status: 202, headers: { 'content-type': 'text/plain', connection: 'close' }, body: 'closing' };
        }
        default:
          return undefined;
      }
    };
    queue.serve(handler);
    queue.serve((request) => {
      if (restOf(request).toLowerCase() !== 'pass') return undefined;
      return { status: 200, headers: { 'content-type': 'text/plain', 'x-answered-by': 'second-handler' }, body: 'second' };
    });
  }

  return { events, install };
}
