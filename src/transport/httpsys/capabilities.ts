/** What one exchange can do on this host (the per-exchange capabilities of the contract). */
import type { NativeCapabilities } from '../../native/types.js';
import type { Capabilities, HttpVersion } from '../types.js';

export interface RequestShape {
  readonly httpVersion: HttpVersion;
  readonly http2: boolean;
  /** The request has (or announces) a body. */
  readonly hasBody: boolean;
}

/**
 * Trailers only on HTTP/2 where the host has them (Http.sys has no HTTP/1.1
 * chunked trailers); reset on HTTP/2 where the host has it; upgrade where opaque sends
 * work and the request is HTTP/1.1 without a body; streaming where
 * HttpSendResponseEntityBody works.
 */
export function exchangeCapabilities(host: NativeCapabilities, request: RequestShape): Capabilities {
  return {
    trailers: request.http2 && host.trailers,
    // RST_STREAM exists only on HTTP/2; on HTTP/1.x a reset can only drop the connection.
    reset: request.http2 && host.reset,
    upgrade: host.opaqueUpgrade && !request.http2 && request.httpVersion === '1.1' && !request.hasBody,
    http2: request.http2,
    streaming: host.streamingResponses,
  };
}

/** The contract's version string for the addon's version and HTTP/2 flag. */
export function httpVersionOf(version: string, http2: boolean): HttpVersion {
  if (http2 || version.startsWith('2')) return '2.0';
  if (version === '1.0') return '1.0';
  return '1.1';
}
