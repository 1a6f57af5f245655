/**
 * Client-disconnect notification: one HttpWaitForDisconnectEx per connection,
 * started only when an exchange on that connection asks for it.
 */
import type { NativeRequestQueue } from '../../native/types.js';

export class DisconnectWatcher {
  private readonly waits = new Map<bigint, Set<() => void>>();
  private closed = false;

  constructor(
    private readonly queue: NativeRequestQueue,
    /** False where the host has no usable HttpWaitForDisconnectEx (Wine). */
    readonly supported: boolean,
  ) {}

  /** Call `onGone` when the connection goes away. Returns a function that stops watching. */
  watch(connectionId: bigint, onGone: () => void): () => void {
    if (!this.supported || this.closed) return () => undefined;
    let listeners = this.waits.get(connectionId);
    if (listeners === undefined) {
      let wait: Promise<void>;
      try {
        wait = this.queue.waitForDisconnect(connectionId);
      } catch {
        // The connection is already gone or the queue is closing.
        queueMicrotask(onGone);
        return () => undefined;
      }
      const set = new Set<() => void>();
      listeners = set;
      this.waits.set(connectionId, set);
      // Any end of the wait means the connection is unusable: a clean completion when it closes, an
      // error such as ERROR_CONNECTION_INVALID (1229) when it was already gone before the wait began.
      // Only the queue closing (which sets `closed` first) ends a wait without telling anyone.
      const ended = (): void => {
        if (this.waits.get(connectionId) === set) this.waits.delete(connectionId);
        if (!this.closed) for (const fn of set) fn();
        set.clear();
      };
      wait.then(ended, ended);
    }
    const set = listeners;
    set.add(onGone);
    return () => set.delete(onGone);
  }

  close(): void {
    this.closed = true;
    for (const set of this.waits.values()) set.clear();
    this.waits.clear();
  }
}
