/**
 * Typed errors of the queue layer. Every error a caller can meet here is one
 * of these classes (or StreamResetError from types.ts), so code can branch on
 * `instanceof` rather than on message text.
 */

/** An error that maps to one HTTP status when it escapes a handler. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(readonly status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The request body is longer than the queue's `limits.maxRequestBodyBytes` (answered with 413). */
export class RequestBodyTooLargeError extends HttpError {
  override name = 'RequestBodyTooLargeError';
  constructor(readonly limit: number) {
    super(413, `request body is larger than the limit of ${limit} bytes`);
  }
}

/** A URL prefix that Http.sys would refuse (it answers ERROR_INVALID_PARAMETER, 87). */
export class UrlPrefixError extends Error {
  override name = 'UrlPrefixError';
  /** The Win32 error Http.sys gives for the same prefix. */
  readonly winError = 87;
  constructor(readonly url: string, reason: string) {
    super(`invalid URL prefix ${JSON.stringify(url)}: ${reason}`);
  }
}

/** The requested backend cannot be loaded or opened on this host. */
export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
  constructor(readonly backend: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Why an exchange's signal fired. `signal.reason` is always one of the subclasses. */
export class ExchangeAbortedError extends Error {
  override name = 'ExchangeAbortedError';
}

/** The client closed the connection before the exchange finished. */
export class ClientDisconnectedError extends ExchangeAbortedError {
  override name = 'ClientDisconnectedError';
  constructor(message = 'the client closed the connection') {
    super(message);
  }
}

/** The client reset the HTTP/2 stream (RST_STREAM) with `code`. */
export class ClientResetError extends ExchangeAbortedError {
  override name = 'ClientResetError';
  constructor(readonly code: number) {
    super(`the client reset the stream with HTTP/2 error code ${code}`);
  }
}

/** The queue closed (forced, or after its graceful deadline) while the exchange was running. */
export class QueueClosedError extends ExchangeAbortedError {
  override name = 'QueueClosedError';
  constructor(message = 'the request queue closed') {
    super(message);
  }
}
