/**
 * The shape of the native addon (native/, built to prebuilds/win32-x64/*.node).
 * It mirrors the Http.sys objects one to one and knows nothing about gRPC.
 *
 * Rules every method keeps:
 * - A wrong JavaScript argument throws TypeError; nothing a caller passes can crash the process.
 * - A failed Win32 call throws (or rejects with) an Error carrying `syscall` (function name),
 *   `winError` (number), `code` (e.g. "ERROR_ACCESS_DENIED") and a sentence a person can act on.
 * - Buffers passed to a send stay referenced by the addon until that send completes.
 * - Async completions reach JavaScript in batches through one thread-safe function per queue.
 * - No callback runs after `close()` has resolved or after the environment is torn down.
 */

/** What this host really supports. On Wine, functions that are stubs which abort the process are reported absent. */
export interface NativeCapabilities {
  /** 'wine' when ntdll exports wine_get_version. */
  readonly host: 'windows' | 'wine';
  /** Wine's version string, when host is 'wine'. */
  readonly wineVersion?: string;
  /** Windows version the process sees, e.g. { major: 10, minor: 0, build: 20348 }. */
  readonly os: { readonly major: number; readonly minor: number; readonly build: number };
  /** HttpDataChunkTrailers on the final send (HttpIsFeatureSupported(HttpFeatureResponseTrailers)). */
  readonly trailers: boolean;
  /** HttpSetRequestProperty(StreamError) + HttpCancelHttpRequest. */
  readonly reset: boolean;
  /** HTTP_SEND_RESPONSE_FLAG_OPAQUE upgrades (Windows 8+, not Wine). */
  readonly opaqueUpgrade: boolean;
  /** HTTP/2 (TLS) requests can arrive (Windows 10 / Server 2016+, not Wine). */
  readonly http2: boolean;
  /** HttpDelegateRequestEx resolved. */
  readonly delegation: boolean;
  /** HttpCancelHttpRequest usable. */
  readonly cancel: boolean;
  /** HttpWaitForDisconnectEx usable. */
  readonly disconnectNotification: boolean;
  /** HttpShutdownRequestQueue usable. */
  readonly queueShutdown: boolean;
  /** HttpSendResponseEntityBody usable, so response bodies can be streamed (Wine 8 stubs it). */
  readonly streamingResponses: boolean;
  /** Named queues and HTTP_CREATE_REQUEST_QUEUE_FLAG_OPEN_EXISTING work (not on Wine). */
  readonly namedQueues: boolean;
  /** Queue length / 503 verbosity / timeouts / QoS properties can be set (not on Wine). */
  readonly properties: boolean;
}

/** A request as received. Header names are lower-cased; repeated headers appear as repeated pairs. */
export interface NativeRequest {
  /** HTTP_REQUEST_ID */
  readonly id: bigint;
  readonly connectionId: bigint;
  /** The context number given to UrlGroup.addUrl for the prefix that matched. */
  readonly urlContext: number;
  /** Verb as sent, unknown verbs included. */
  readonly method: string;
  /** Path and query exactly as sent (pRawUrl). */
  readonly rawUrl: string;
  /** Host from the cooked URL (no port). */
  readonly host: string;
  /** "1.0", "1.1" or "2.0" */
  readonly httpVersion: string;
  /** HTTP_REQUEST_FLAG_HTTP2 */
  readonly http2: boolean;
  /** Flat list: name0, value0, name1, value1, ... known and unknown headers, names lower-cased. */
  readonly headers: readonly string[];
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** pSslInfo present */
  readonly secure: boolean;
  /** From HTTP_SSL_PROTOCOL_INFO where the host gives it (numeric SChannel values). */
  readonly tls?: {
    readonly protocol: number;
    readonly cipherType: number;
    readonly cipherStrength: number;
    readonly hashType: number;
    readonly keyExchangeType: number;
  };
  /** Entity body bytes that arrived with the headers (COPY_BODY), or null. */
  readonly body: Uint8Array | null;
  /** HTTP_REQUEST_FLAG_MORE_ENTITY_BODY_EXISTS: read the rest with RequestQueue.readBody. */
  readonly moreBody: boolean;
}

export interface NativeResponse {
  readonly status: number;
  readonly reason?: string;
  /** Flat list name0, value0, ...; names that are HTTP known response headers go into KnownHeaders. */
  readonly headers?: readonly string[];
  /** Entity chunks (memory). */
  readonly body?: readonly Uint8Array[];
  /** Flat trailer list; sent as one HttpDataChunkTrailers chunk. Only on a final send (moreData false). */
  readonly trailers?: readonly string[];
  /** HTTP_SEND_RESPONSE_FLAG_MORE_DATA: more body follows through sendBody. */
  readonly moreData?: boolean;
  /** HTTP_SEND_RESPONSE_FLAG_OPAQUE (status must be 101; also sets MORE_DATA and BUFFER_DATA). */
  readonly opaque?: boolean;
  /** HTTP_SEND_RESPONSE_FLAG_DISCONNECT */
  readonly disconnect?: boolean;
}

export interface NativeBodyChunk {
  readonly body?: readonly Uint8Array[];
  readonly trailers?: readonly string[];
  readonly moreData?: boolean;
  readonly disconnect?: boolean;
}

export interface NativeQueueOptions {
  /** Queue name; omitted means an unnamed queue. */
  readonly name?: string;
  readonly mode?: 'create' | 'attach' | 'createOrAttach';
}

export interface NativeReceiveOptions {
  /** Receives kept outstanding. Default 5 × CPUs. */
  readonly receives?: number;
  /** First receive buffer size in bytes. Default 4096. */
  readonly initialBufferSize?: number;
}

export interface NativeRequestQueue {
  /** True when this process created the queue (so it may set properties and add URL groups). */
  readonly created: boolean;
  /** Begin receiving. `onRequests` gets batches of requests on the JavaScript thread. */
  start(onRequests: (batch: NativeRequest[]) => void, options?: NativeReceiveOptions): void;
  /** HttpRequestQueueLengthProperty (ULONG). */
  setQueueLength(length: number): void;
  /** HttpServer503VerbosityProperty (0 basic, 1 limited, 2 full). */
  setVerbosity(level: number): void;
  /** Read up to maxBytes more of a request body. Resolves null at the end of the body. */
  readBody(requestId: bigint, maxBytes: number): Promise<Uint8Array | null>;
  /** HttpSendHttpResponse */
  sendResponse(requestId: bigint, response: NativeResponse): Promise<void>;
  /** HttpSendResponseEntityBody */
  sendBody(requestId: bigint, chunk: NativeBodyChunk): Promise<void>;
  /** HttpSetRequestProperty(StreamError, code) then HttpCancelHttpRequest. Throws where capabilities().reset is false. */
  reset(requestId: bigint, code: number): void;
  /** HttpCancelHttpRequest. Throws where capabilities().cancel is false. */
  cancel(requestId: bigint): void;
  /** Resolves when the connection goes away (HttpWaitForDisconnectEx). Throws where not supported. */
  waitForDisconnect(connectionId: bigint): Promise<void>;
  /** Stop receiving, cancel what is in flight, wait for every completion, close the handle. Idempotent. */
  close(): Promise<void>;
}

export interface NativeUrlGroup {
  /** HttpAddUrlToUrlGroup; `context` comes back as NativeRequest.urlContext. */
  addUrl(prefix: string, context: number): void;
  removeUrl(prefix: string): void;
  /** HttpServerBindingProperty: route this group's URLs to the queue (null unbinds). */
  bind(queue: NativeRequestQueue | null): void;
  /** HttpServerTimeoutsProperty */
  setTimeouts(timeouts: {
    entityBody?: number;
    drainEntityBody?: number;
    requestQueue?: number;
    idleConnection?: number;
    headerWait?: number;
    minSendRate?: number;
  }): void;
  /** HttpServerQosProperty, connection limit. */
  setMaxConnections(limit: number): void;
  close(): void;
}

export interface NativeServerSession {
  createUrlGroup(): NativeUrlGroup;
  close(): void;
}

export interface NativeBinding {
  capabilities(): NativeCapabilities;
  ServerSession: new () => NativeServerSession;
  RequestQueue: new (options?: NativeQueueOptions) => NativeRequestQueue;
}

/** Error shape thrown by the addon for failed Win32 calls. */
export interface NativeError extends Error {
  readonly syscall: string;
  readonly winError: number;
  readonly code: string;
}
