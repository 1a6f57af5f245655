/**
 * The transport contract: one request/response exchange, the same on every
 * backend (Http.sys through the native addon, or the portable backend: node:http
 * and the package's own HTTP/2 engine).
 * Protocol code (gRPC, gRPC-Web, transcoding, WebSocket) sees only these types.
 */
import type { Duplex } from 'node:stream';

/** Request header fields, names lower-cased. A repeated field is joined with ", " ("; " for cookie). */
export type IncomingHeaders = Readonly<Record<string, string>>;

/** Every header line in arrival order, names lower-cased, repeated fields kept apart. */
export type RawHeaders = readonly (readonly [name: string, value: string])[];

/** Response header fields or trailers: a record (an array value repeats the field) or ordered pairs. */
export type OutgoingHeaders =
  | Readonly<Record<string, string | number | readonly string[]>>
  | RawHeaders;

export type HttpVersion = '1.0' | '1.1' | '2.0';

/** What the backend can do for this one exchange. Protocol code decides with these. */
export interface Capabilities {
  /** Trailers sent after the body reach the client (HTTP/2, or HTTP/1.1 chunked on the portable backend). */
  readonly trailers: boolean;
  /** The exchange can be ended with an HTTP/2 RST_STREAM carrying a chosen error code. */
  readonly reset: boolean;
  /** A 101 response can turn the connection into a raw byte stream. */
  readonly upgrade: boolean;
  /** The exchange runs over HTTP/2. */
  readonly http2: boolean;
  /** The response body can be streamed (sent in pieces as it is produced) rather than buffered whole. */
  readonly streaming: boolean;
}

export interface TlsInfo {
  /** e.g. "TLSv1.3" */
  readonly protocol?: string;
  readonly cipher?: string;
  /** Negotiated ALPN protocol, e.g. "h2". */
  readonly alpnProtocol?: string;
  /** Server name the client asked for (SNI). */
  readonly servername?: string;
}

export interface ServerRequest {
  readonly method: string;
  /** Path and query exactly as sent (percent-encoding kept), e.g. "/pkg.Svc/Call?x=1". */
  readonly url: string;
  /** The path part of `url`, still percent-encoded. */
  readonly path: string;
  /** The query part of `url` without the "?", "" when there is none. */
  readonly query: string;
  /** Host the client addressed (Host header or :authority), without any port. */
  readonly host: string;
  readonly headers: IncomingHeaders;
  readonly rawHeaders: RawHeaders;
  readonly httpVersion: HttpVersion;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** True when the request came over TLS. */
  readonly secure: boolean;
  readonly tls?: TlsInfo;
  /** The registered URL prefix that matched, as it was given to the queue (e.g. "http://+:8080/api/"). */
  readonly prefix: string;
  /** The request body, pulled on demand (backpressure). Ends when the body ends; errors if the client goes away mid-body. */
  readonly body: AsyncIterable<Uint8Array>;
  /** Fires when the client goes away, the stream is reset, or the queue shuts down. `signal.reason` says which. */
  readonly signal: AbortSignal;
  /**
   * Optional: the same as `signal.aborted`, where the backend can tell without
   * creating the signal (backends create it lazily). Read `aborted ?? signal.aborted`.
   */
  readonly aborted?: boolean;
  /**
   * Optional: call `listener.exchangeAborted(reason)` once when the request is
   * aborted (synchronously, at once, if it already was), with the reason
   * `signal` carries, without creating the signal. Where a backend offers it,
   * `offAbort` stops the listener. Layers that follow a request for its whole
   * life (a streaming call) use it to save the signal's cost per request.
   */
  onAbort?(listener: AbortListener): void;
  offAbort?(listener: AbortListener): void;
  readonly capabilities: Capabilities;
}

export type BodySource =
  | Uint8Array
  | string
  | Iterable<Uint8Array>
  | AsyncIterable<Uint8Array>
  | null
  | undefined;

export type TrailerSource =
  | OutgoingHeaders
  | (() => OutgoingHeaders | undefined | Promise<OutgoingHeaders | undefined>);

/** An ordinary response. */
export interface ServerResponse {
  readonly status: number;
  /** Reason phrase for HTTP/1.x; ignored on HTTP/2. */
  readonly reason?: string;
  readonly headers?: OutgoingHeaders;
  /** Pulled one chunk at a time; the next chunk is requested only when the previous one has been accepted. */
  readonly body?: BodySource;
  /**
   * Sent after the body. A function is called once the body has ended, so the
   * trailers can describe how it ended (gRPC status). Ignored (and reported
   * once through the queue's logger) where `capabilities.trailers` is false.
   */
  readonly trailers?: TrailerSource;
}

/** Accept an upgrade: a 101 goes out, then the connection is a raw byte stream both ways. */
export interface UpgradeResponse {
  readonly status: 101;
  readonly headers?: OutgoingHeaders;
  /** Called with the raw stream once the 101 has been sent. Bytes the client sent after its request come first. */
  readonly upgrade: (socket: Duplex) => void;
}

/** End the exchange with an HTTP/2 RST_STREAM carrying `reset` as its error code (closes the connection on HTTP/1.x). */
export interface ResetResponse {
  readonly reset: number;
}

/** `undefined` means "not mine": the queue tries its next handler, and answers 404 after the last. */
export type HandlerResult = ServerResponse | UpgradeResponse | ResetResponse | undefined;

export type Handler = (request: ServerRequest) => HandlerResult | Promise<HandlerResult>;

/** Thrown from a response body iterator to reset the stream mid-body with an HTTP/2 error code. */
export class StreamResetError extends Error {
  override readonly name = 'StreamResetError';
  constructor(readonly code: number, message = `stream reset with HTTP/2 error code ${code}`) {
    super(message);
  }
}

/** HTTP/2 error codes (RFC 9113 section 7) used for resets. */
export const Http2ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

// ---------------------------------------------------------------------------
// Queue API (public)

export type QueueMode = 'create' | 'attach' | 'createOrAttach';
export type BackendName = 'httpsys' | 'node';

/** Http.sys timeouts, in seconds (minSendRate in bytes per second). Applied where the host supports them. */
export interface QueueTimeouts {
  readonly entityBody?: number;
  readonly drainEntityBody?: number;
  readonly requestQueue?: number;
  readonly idleConnection?: number;
  readonly headerWait?: number;
  readonly minSendRate?: number;
}

export interface QueueLimits {
  /**
   * Request bodies longer than this get 413 (or fail the body read with
   * RequestBodyTooLargeError once the handler has started). Default `Infinity`:
   * no limit, as on Http.sys, so long-lived streams are not capped; `readBody()`
   * applies a limit of its own.
   */
  readonly maxRequestBodyBytes?: number;
  /** Total size of the request header block; larger requests get 431. Default 64 KiB. */
  readonly maxHeaderBytes?: number;
  /** Http.sys request queue length (default 1000). Only when this process created the queue. */
  readonly queueLength?: number;
  /** Maximum concurrent connections for the queue's URLs. */
  readonly maxConnections?: number;
  readonly timeouts?: QueueTimeouts;
}

/** Certificate for https:// prefixes on the portable backend. (On Http.sys certificates are bound with netsh http add sslcert.) */
export interface TlsOptions {
  readonly key: string | Uint8Array;
  readonly cert: string | Uint8Array;
  readonly ca?: string | Uint8Array | readonly (string | Uint8Array)[];
  readonly passphrase?: string;
}

export interface Logger {
  warn(message: string, detail?: unknown): void;
  error(message: string, detail?: unknown): void;
}

export interface RequestQueueOptions {
  /** URL prefixes in Http.sys syntax: "http://+:8080/api/", "https://*:443/", "http://localhost:5000/". */
  readonly urls: readonly string[];
  /** Queue name (Http.sys named queue; other processes can attach to it). */
  readonly name?: string;
  /** Default 'create'. */
  readonly mode?: QueueMode;
  /** Default 'auto': Http.sys on Windows, the portable backend elsewhere. */
  readonly backend?: 'auto' | BackendName;
  readonly limits?: QueueLimits;
  readonly tls?: TlsOptions;
  /** Where the queue reports handler failures and dropped features. Default: console. */
  readonly logger?: Logger;
}

export interface CloseOptions {
  /** Milliseconds to let in-flight exchanges finish before their signals fire and they are aborted. Default 0. */
  readonly graceful?: number;
}

/** A snapshot of a queue's load (used by tests and health checks). */
export interface QueueStats {
  /** Exchanges received and not yet finished or aborted. */
  readonly inFlight: number;
  /** Open client connections on the listeners this queue uses, where the backend can count them. */
  readonly connections?: number;
}

export interface RequestQueue {
  readonly backend: BackendName;
  /** The prefixes being served (on the portable backend a port 0 is replaced by the bound port). */
  readonly urls: readonly string[];
  readonly name: string | undefined;
  /** Add a handler. Handlers are tried in the order added; `undefined` passes to the next. */
  serve(handler: Handler): this;
  addUrl(url: string): Promise<void>;
  removeUrl(url: string): Promise<void>;
  /** Stop taking requests, let in-flight ones finish until the deadline, then abort them. Resolves when all is released. */
  close(options?: CloseOptions): Promise<void>;
  stats(): QueueStats;
  /**
   * What the host behind this queue can do beyond one exchange (e.g. `h2c`,
   * `clientAbortSignal`, `unmatchedUrl404`), as the backend reports it. Tests
   * and diagnostics use it to skip what a host cannot do, with the reason.
   */
  readonly hostFacts: HostFacts;
}

/** Named facts about a backend's host; see RequestQueue.hostFacts. */
export type HostFacts = Readonly<Record<string, string | number | boolean>>;

// ---------------------------------------------------------------------------
// Backend interface (internal): what a backend gives the shared exchange runner.

/** Writes one response. Every method is called at most in the order below; the runner guarantees it. */
export interface ResponseSink {
  /**
   * Send status and headers. `end` true means there is no body and no trailers.
   * `trailers` true means `end` will be called with trailers (backends that must
   * know up front, such as HTTP/2 `waitForTrailers` or Http.sys MORE_DATA, use it).
   */
  head(status: number, reason: string | undefined, headers: RawHeaders, end: boolean, trailers?: boolean): Promise<void> | void;
  /** Send a body chunk. The promise resolves when the next chunk may be sent (backpressure). */
  write(chunk: Uint8Array): Promise<void> | void;
  /** Finish the body, with trailers where given (only called with trailers when capabilities.trailers). */
  end(trailers: RawHeaders | undefined): Promise<void> | void;
  /** Reset the stream with an HTTP/2 error code (or drop the connection on HTTP/1.x). May be called at any point. */
  reset(code: number): void;
  /**
   * Optional: send a whole response at once, instead of head, write and end
   * (a body known up front, trailers known up front). `body` may be empty.
   * Resolves when the response is complete, as `end` does.
   */
  respond?(status: number, reason: string | undefined, headers: RawHeaders, body: Uint8Array, trailers: RawHeaders | undefined): Promise<void> | void;
  /** Send a 101 and hand back the raw stream. */
  upgrade(headers: RawHeaders): Promise<Duplex>;
}

/** One received request as a backend hands it to the shared runner. */
export interface BackendExchange {
  readonly request: ServerRequest;
  readonly response: ResponseSink;
  /** Abort the request's signal (the runner calls this on queue shutdown). */
  abort(reason: unknown): void;
  /**
   * Optional: tell `listener` once when the exchange is aborted (at once if it
   * already was), with the reason its signal carries. Lets the runner follow
   * the exchange without creating the request's AbortSignal.
   */
  onAbort?(listener: AbortListener): void;
}

/** Receives an exchange's abort (see BackendExchange.onAbort). */
export interface AbortListener {
  exchangeAborted(reason: Error): void;
}

export interface BackendQueue {
  readonly backend: BackendName;
  readonly urls: readonly string[];
  /** Start delivering exchanges. */
  start(onExchange: (exchange: BackendExchange) => void): void;
  addUrl(url: string): Promise<void>;
  removeUrl(url: string): Promise<void>;
  /** Stop receiving new requests (already-received exchanges keep running). */
  stopAccepting(): Promise<void>;
  /** Release everything. Called after in-flight exchanges are done or aborted. */
  destroy(): Promise<void>;
  /** Open client connections, where the backend can count them. */
  connectionCount?(): number;
  /** Facts about the host (see RequestQueue.hostFacts). */
  hostFacts?(): HostFacts;
}

export interface BackendOpenOptions extends RequestQueueOptions {
  readonly mode: QueueMode;
  readonly logger: Logger;
}
