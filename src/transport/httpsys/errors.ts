/**
 * Typed errors of the Http.sys backend. Every failed Win32 call reported by the
 * native addon becomes an HttpSysError that keeps the addon's actionable sentence.
 */
import { ExchangeAbortedError } from '../errors.js';

/** A Win32 failure inside Http.sys, with the function that failed and its error code. */
export class HttpSysError extends Error {
  override readonly name = 'HttpSysError';
  constructor(
    message: string,
    /** The Win32 function that failed, e.g. "HttpAddUrlToUrlGroup". */
    readonly syscall: string,
    /** The Win32 error number, e.g. 5. */
    readonly winError: number,
    /** The Win32 error name, e.g. "ERROR_ACCESS_DENIED". */
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The host lacks something this queue was asked to do (e.g. attaching to a named queue under Wine). */
export class HttpSysUnsupportedError extends Error {
  override readonly name = 'HttpSysUnsupportedError';
}

/** A response body grew past what a host without streamed responses can buffer. */
export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  constructor(readonly limit: number) {
    super(
      `response body exceeds ${limit} bytes; this host cannot stream response bodies ` +
        `(HttpSendResponseEntityBody is unavailable), so responses are buffered whole up to that size`,
    );
  }
}

/** Signal reason when the server reset the exchange (a ResetResponse or a StreamResetError from the body). */
export class ExchangeResetError extends ExchangeAbortedError {
  override name = 'ExchangeResetError';
  constructor(readonly code: number) {
    super(`the exchange was reset with HTTP/2 error code ${code}`);
  }
}

interface NativeErrorShape {
  readonly message: string;
  readonly syscall: string;
  readonly winError: number;
  readonly code: string;
}

function isNativeError(err: unknown): err is Error & NativeErrorShape {
  if (!(err instanceof Error)) return false;
  const e = err as Error & Partial<NativeErrorShape>;
  return typeof e.syscall === 'string' && typeof e.winError === 'number';
}

/**
 * Turns an addon failure into an HttpSysError (already-typed errors and
 * TypeErrors pass through unchanged). `doing` says what the backend was doing.
 */
export function toHttpSysError(err: unknown, doing?: string): Error {
  if (err instanceof HttpSysError || err instanceof TypeError) return err;
  if (isNativeError(err)) {
    const message = doing ? `${doing}: ${err.message}` : err.message;
    const code = typeof err.code === 'string' && err.code ? err.code : `WIN32_${err.winError}`;
    return new HttpSysError(message, err.syscall, err.winError, code, { cause: err });
  }
  if (err instanceof Error) return err;
  return new Error(doing ? `${doing}: ${String(err)}` : String(err));
}

/** Win32 errors that mean the connection or request is gone (not a bug in the caller). */
const GONE = new Set([
  64, // ERROR_NETNAME_DELETED
  995, // ERROR_OPERATION_ABORTED
  1229, // ERROR_CONNECTION_INVALID
  1236, // ERROR_CONNECTION_ABORTED
  6, // ERROR_INVALID_HANDLE (queue closed)
]);

/** True when an addon error says the client or the request is gone. */
export function isConnectionGone(err: unknown): boolean {
  return isNativeError(err) && GONE.has(err.winError);
}
