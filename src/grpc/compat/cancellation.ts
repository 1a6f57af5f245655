/**
 * Following a call's cancellation from the grpc-js call objects. A call run by
 * GrpcServer offers internal hooks that do not create the call's AbortSignal
 * (an AbortController and its listeners cost more than the rest of a unary
 * call); any other CallContext is followed through `ctx.signal`, as before.
 */
import type { CallContext } from '../types.js';

interface CancelHooks {
  readonly cancelReason: unknown;
  onCancelled(listener: (reason: unknown) => void): () => void;
}

function hooksOf(ctx: CallContext): CancelHooks | undefined {
  const hooks = ctx as CallContext & Partial<CancelHooks>;
  return typeof hooks.onCancelled === 'function' ? (hooks as CallContext & CancelHooks) : undefined;
}

/** Whether the call was cancelled (client gone, deadline, shutdown): `ctx.signal.aborted`. */
export function isCancelled(ctx: CallContext): boolean {
  return hooksOf(ctx) !== undefined ? ctx.cancelled : ctx.cancelled || ctx.signal.aborted;
}

/** Why the call was cancelled (`ctx.signal.reason`), undefined while it was not. */
export function cancelReason(ctx: CallContext): unknown {
  const hooks = hooksOf(ctx);
  if (hooks !== undefined) return hooks.cancelReason;
  return ctx.signal.aborted ? ctx.signal.reason : undefined;
}

/**
 * Run `listener` once when a call not yet cancelled is (as an 'abort' listener
 * on ctx.signal would). Returns a function that stops following.
 */
export function whenCancelled(ctx: CallContext, listener: (reason: unknown) => void): () => void {
  const hooks = hooksOf(ctx);
  if (hooks !== undefined) return hooks.onCancelled(listener);
  const signal = ctx.signal;
  const onAbort = (): void => listener(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}
