/** Errors raised while locating or loading the native addon. */

/** The addon cannot be used here: wrong OS, missing binary, or a binary that does not load. */
export class NativeAddonUnavailableError extends Error {
  override readonly name = 'NativeAddonUnavailableError';
  readonly code = 'ERR_HTTPSYS_ADDON_UNAVAILABLE';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** True when `err` carries the fields the addon puts on failed Win32 calls. */
export function isNativeError(err: unknown): err is Error & { syscall: string; winError: number; code: string } {
  if (!(err instanceof Error)) return false;
  const e = err as Error & Partial<Record<'syscall' | 'winError' | 'code', unknown>>;
  return typeof e.syscall === 'string' && typeof e.winError === 'number' && typeof e.code === 'string';
}
