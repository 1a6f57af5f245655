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
      wait.then(
        () => {
          this.waits.delete(connectionId);
          if (this.closed) return;
          for (const fn of set) fn();
          set.clear();
        },
        () => {
          // The wait ends with an error when the queue closes; nobody is told.
          this.waits.delete(connectionId);
          set.clear();
        },
      );
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
