/**
 * Facts about an Http.sys host beyond one exchange (RequestQueue.hostFacts):
 * what Windows' Http.sys does, and where Wine 8's own http.sys differs.
 */
import type { NativeCapabilities } from '../../native/types.js';
import type { HostFacts } from '../types.js';

/** Whether the host decodes chunked request bodies (Wine 8 hands such requests over without their body). */
export function chunkedRequestBodies(host: NativeCapabilities): boolean {
  return host.host !== 'wine';
}

/** The facts for `host`; `bufferLimit` is the largest response sent where bodies cannot be streamed. */
export function httpSysHostFacts(host: NativeCapabilities, bufferLimit: number): HostFacts {
  const wine = host.host === 'wine';
  return {
    host: host.host,
    ...(host.wineVersion !== undefined ? { wineVersion: host.wineVersion } : {}),
    osBuild: host.os.build,
    h2c: false,
    // HTTP/2 over TLS (ALPN h2) where the host has HTTP/2 and a certificate is bound to the port.
    http2Tls: host.http2,
    clientAbortSignal: host.disconnectNotification,
    chunkedRequestBodies: chunkedRequestBodies(host),
    // Wine 8's http.sys buffers a whole request before handing it over, and takes it only as far
    // as the bytes already waiting on the socket when it first looks (about 100 KiB on a Linux
    // loopback); a longer request loses its connection. Whole requests under 64 KiB arrive there.
    largeRequestBodies: !wine,
    ...(wine ? { maxRequestBytes: 64 * 1024 } : {}),
    unmatchedUrl404: !wine,
    // Http.sys routing: paths compare case-insensitively, the strong wildcard "+" is tried before
    // host-specific prefixes, and "*" catches hosts nothing else names. Wine 8 compares paths
    // case-sensitively, picks the longest path whatever the host class, and its "*" matches nothing.
    caseInsensitivePaths: !wine,
    strongWildcardFirst: !wine,
    weakWildcards: !wine,
    // Wine 8's http.sys keeps header value lengths in 16 bits (a 66,560-byte value arrives as
    // 1,024 bytes), so header blocks near the 64 KiB limit cannot be checked there.
    largeRequestHeaders: !wine,
    // Wine 8's http.sys routes a request to a "+" prefix only when its Host carries the port;
    // "Host: 127.0.0.1" alone is held unanswered.
    hostWithoutPort: !wine,
    // Wine 8's http.sys matches "Host" and "Content-Length" case-sensitively: a lower-case
    // host gets 400 and a lower-case content-length leaves the body unread.
    lowerCaseFramingHeaders: !wine,
    arbitraryMethodsHttp1: true,
    // An exchange can be ended by dropping its connection (reset or cancel). Wine has neither
    // and ignores DISCONNECT, so there an abandoned exchange is answered 500/503 instead.
    dropConnection: host.reset || host.cancel,
    // Malformed framing (duplicate Content-Length, bad chunk sizes) is refused by Http.sys with 400;
    // Wine's parser accepts some of it and then waits for bytes that never come.
    strictRequestParsing: !wine,
    streamingResponses: host.streamingResponses,
    // Where responses cannot be streamed, larger ones are refused with 500.
    ...(host.streamingResponses ? {} : { maxResponseBytes: bufferLimit }),
  };
}
