/**
 * A recording NativeRequestQueue for checking the backend's decisions (which
 * addon call, with which flags, in which order) without the addon. Every
 * asynchronous call stays pending until the test settles it, so a test decides
 * how Http.sys answered. It checks decision logic only; what Http.sys does with
 * those calls is covered by the Wine and Windows tiers.
 */
import type {
  NativeBinding,
  NativeBodyChunk,
  NativeCapabilities,
  NativeReceiveOptions,
  NativeRequest,
  NativeRequestQueue,
  NativeResponse,
  NativeServerSession,
  NativeUrlGroup,
} from '../../src/native/types.js';
import { DisconnectWatcher } from '../../src/transport/httpsys/disconnects.js';
import { HttpSysExchange, type ExchangeContext } from '../../src/transport/httpsys/server-request.js';
import type { Logger } from '../../src/transport/types.js';

export type CallKind = 'sendResponse' | 'sendBody' | 'readBody' | 'waitForDisconnect' | 'reset' | 'cancel';

export interface Call {
  readonly kind: CallKind;
  readonly id: bigint;
  readonly arg?: NativeResponse | NativeBodyChunk | number;
  /** Pending asynchronous calls only. */
  resolve?(value?: Uint8Array | null): void;
  reject?(err: Error): void;
  settled: boolean;
}

/** An error shaped like the addon's Win32 failures. */
export function win32Error(syscall: string, winError: number, code: string): Error {
  return Object.assign(new Error(`${syscall} failed with ${code}`), { syscall, winError, code });
}

export class RecordingQueue implements NativeRequestQueue {
  readonly created = true;
  readonly calls: Call[] = [];
  /** When set, the next call of that kind throws it synchronously. */
  readonly throwNext = new Map<CallKind, Error>();

  private record(kind: CallKind, id: bigint, arg?: Call['arg']): Call {
    const thrown = this.throwNext.get(kind);
    if (thrown !== undefined) {
      this.throwNext.delete(kind);
      throw thrown;
    }
    const call: Call = { kind, id, ...(arg !== undefined ? { arg } : {}), settled: false };
    this.calls.push(call);
    return call;
  }

  private pending<T>(kind: CallKind, id: bigint, arg?: Call['arg']): Promise<T> {
    const call = this.record(kind, id, arg);
    return new Promise<T>((resolve, reject) => {
      call.resolve = (v) => {
        call.settled = true;
        resolve(v as T);
      };
      call.reject = (e) => {
        call.settled = true;
        reject(e);
      };
    });
  }

  of(kind: CallKind): Call[] {
    return this.calls.filter((c) => c.kind === kind);
  }

  unsettled(kind?: CallKind): Call[] {
    return this.calls.filter((c) => c.resolve !== undefined && !c.settled && (kind === undefined || c.kind === kind));
  }

  /** The receive callback given to start(): a test delivers requests through it. */
  deliver: ((batch: NativeRequest[]) => void) | undefined;
  /** Shared with the binding that made this queue, if any. */
  log: string[] = [];

  start(onRequests: (batch: NativeRequest[]) => void, _options?: NativeReceiveOptions): void {
    this.deliver = onRequests;
  }
  setQueueLength(_length: number): void {}
  setVerbosity(_level: number): void {}
  readBody(requestId: bigint, maxBytes: number): Promise<Uint8Array | null> {
    return this.pending('readBody', requestId, maxBytes);
  }
  sendResponse(requestId: bigint, response: NativeResponse): Promise<void> {
    return this.pending('sendResponse', requestId, response);
  }
  sendBody(requestId: bigint, chunk: NativeBodyChunk): Promise<void> {
    return this.pending('sendBody', requestId, chunk);
  }
  reset(requestId: bigint, code: number): void {
    this.record('reset', requestId, code);
  }
  cancel(requestId: bigint): void {
    this.record('cancel', requestId);
  }
  waitForDisconnect(connectionId: bigint): Promise<void> {
    return this.pending('waitForDisconnect', connectionId);
  }
  async close(): Promise<void> {
    this.log.push('queue.close');
  }
}

/**
 * A binding whose session, URL groups and queues record what is done to them, in
 * one ordered log (e.g. "group1.addUrl http://+:8080/a/ 1", "queue.close").
 */
export function recordingBinding(host: NativeCapabilities): { binding: NativeBinding; log: string[]; queues: RecordingQueue[] } {
  const log: string[] = [];
  const queues: RecordingQueue[] = [];
  let groups = 0;
  class Group implements NativeUrlGroup {
    private readonly name = `group${++groups}`;
    addUrl(prefix: string, context: number): void {
      log.push(`${this.name}.addUrl ${prefix} ${context}`);
    }
    removeUrl(prefix: string): void {
      log.push(`${this.name}.removeUrl ${prefix}`);
    }
    bind(queue: NativeRequestQueue | null): void {
      log.push(`${this.name}.bind ${queue === null ? 'null' : 'queue'}`);
    }
    setTimeouts(): void {
      log.push(`${this.name}.setTimeouts`);
    }
    setMaxConnections(limit: number): void {
      log.push(`${this.name}.setMaxConnections ${limit}`);
    }
    close(): void {
      log.push(`${this.name}.close`);
    }
  }
  class Session implements NativeServerSession {
    constructor() {
      log.push('session.open');
    }
    createUrlGroup(): NativeUrlGroup {
      return new Group();
    }
    close(): void {
      log.push('session.close');
    }
  }
  class Queue extends RecordingQueue {
    constructor() {
      super();
      this.log = log;
      queues.push(this);
      log.push('queue.open');
    }
  }
  return { binding: { capabilities: () => host, ServerSession: Session, RequestQueue: Queue }, log, queues };
}

/** A received request as the addon reports it. */
export function nativeRequest(fields: Partial<NativeRequest> = {}): NativeRequest {
  return {
    id: 1n,
    connectionId: 1n,
    urlContext: 1,
    method: 'GET',
    rawUrl: '/',
    host: 'localhost',
    httpVersion: '1.1',
    http2: false,
    headers: ['host', 'localhost:8080'],
    remoteAddress: '127.0.0.1',
    remotePort: 50000,
    localAddress: '127.0.0.1',
    localPort: 8080,
    secure: false,
    body: null,
    moreBody: false,
    ...fields,
  };
}

/** Collects what the backend logs. */
export class RecordingLogger implements Logger {
  readonly lines: string[] = [];
  warn(message: string): void {
    this.lines.push(`warn: ${message}`);
  }
  error(message: string): void {
    this.lines.push(`error: ${message}`);
  }
}

export interface ExchangeShape {
  readonly method?: string;
  readonly http2?: boolean;
  readonly httpVersion?: string;
  readonly headers?: readonly string[];
  readonly body?: Uint8Array | null;
  readonly moreBody?: boolean;
  readonly maxSendsInFlight?: number;
}

/** One exchange over the recording queue, as the backend builds it for a received request. */
export function recordedExchange(
  host: NativeCapabilities,
  shape: ExchangeShape = {},
): { queue: RecordingQueue; exchange: HttpSysExchange; logger: RecordingLogger; settled: HttpSysExchange[] } {
  const queue = new RecordingQueue();
  const logger = new RecordingLogger();
  const settled: HttpSysExchange[] = [];
  const ctx: ExchangeContext = {
    queue,
    host,
    disconnects: new DisconnectWatcher(queue, host.disconnectNotification),
    logger,
    maxRequestBodyBytes: Number.POSITIVE_INFINITY,
    maxSendsInFlight: shape.maxSendsInFlight ?? 4,
    bufferLimit: 1024 * 1024,
    queueClosing: () => false,
    onSettled: (e) => settled.push(e),
  };
  const http2 = shape.http2 ?? false;
  const native: NativeRequest = {
    id: 7n,
    connectionId: 3n,
    urlContext: 1,
    method: shape.method ?? 'POST',
    rawUrl: '/pkg.Svc/Call',
    host: 'localhost',
    httpVersion: shape.httpVersion ?? (http2 ? '2.0' : '1.1'),
    http2,
    headers: shape.headers ?? ['host', 'localhost:8080', 'content-type', 'application/grpc'],
    remoteAddress: '127.0.0.1',
    remotePort: 50000,
    localAddress: '127.0.0.1',
    localPort: 8080,
    secure: http2,
    body: shape.body ?? null,
    moreBody: shape.moreBody ?? false,
  };
  const exchange = new HttpSysExchange(native, 'https://+:8080/', ctx);
  return { queue, exchange, logger, settled };
}

/** Lets pending promise callbacks run. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
