import { GrpcError } from './error.js';
import { Status } from './status.js';

/** Milliseconds per grpc-timeout unit. */
const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * Parse a grpc-timeout header value (1–8 ASCII digits then one of H M S m u n)
 * into milliseconds. Anything else ends the call with INTERNAL.
 */
export function parseTimeout(value: string): number {
  const n = value.length;
  if (n < 2 || n > 9) throw invalid(value);
  const ms = UNIT_MS[value[n - 1]!];
  if (ms === undefined) throw invalid(value);
  let digits = 0;
  for (let i = 0; i < n - 1; i++) {
    const c = value.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) throw invalid(value);
    digits = digits * 10 + c;
  }
  return digits * ms;
}

function invalid(value: string): GrpcError {
  const shown = value.length > 32 ? `${value.slice(0, 32)}…` : value;
  return new GrpcError(Status.INTERNAL, `invalid grpc-timeout ${JSON.stringify(shown)}: expected 1-8 digits and a unit H, M, S, m, u or n`);
}

/** Format milliseconds as a grpc-timeout value (for clients and tests). */
export function formatTimeout(ms: number): string {
  const v = Math.max(0, Math.ceil(ms));
  if (v < 1e8) return `${v}m`;
  const s = Math.ceil(v / 1000);
  if (s < 1e8) return `${s}S`;
  const m = Math.ceil(s / 60);
  if (m < 1e8) return `${m}M`;
  return `${Math.min(99_999_999, Math.ceil(m / 60))}H`;
}

/** The longest delay setTimeout takes before it overflows and fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Call `fire` after `ms` milliseconds, however large (a long delay is waited out
 * in steps below setTimeout's limit). Returns a function that cancels it.
 */
export function setLongTimeout(fire: () => void, ms: number): () => void {
  const due = Date.now() + ms;
  let timer: NodeJS.Timeout;
  const arm = (left: number): void => {
    timer = setTimeout(() => {
      const rest = due - Date.now();
      if (rest > 0) arm(rest);
      else fire();
    }, Math.min(Math.max(0, Math.ceil(left)), MAX_TIMER_MS));
    timer.unref?.();
  };
  arm(ms);
  return () => clearTimeout(timer);
}
