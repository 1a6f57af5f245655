/**
 * Serving statuses per service name ("" is the server as a whole) and the
 * watchers waiting for them to change.
 */

/** grpc.health.v1.HealthCheckResponse.ServingStatus, by name. */
export const ServingStatus = {
  UNKNOWN: 0,
  SERVING: 1,
  NOT_SERVING: 2,
  SERVICE_UNKNOWN: 3,
} as const;

export type ServingStatusName = keyof typeof ServingStatus;

type Listener = (status: ServingStatusName | undefined) => void;

export class HealthStatusStore {
  readonly #statuses = new Map<string, ServingStatusName>();
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #closeListeners = new Set<() => void>();
  #shutDown = false;

  constructor(initial: Readonly<Record<string, ServingStatusName>>) {
    for (const [service, status] of Object.entries(initial)) this.#statuses.set(service, status);
  }

  get isShutDown(): boolean {
    return this.#shutDown;
  }

  get(service: string): ServingStatusName | undefined {
    return this.#statuses.get(service);
  }

  entries(): [string, ServingStatusName][] {
    return [...this.#statuses];
  }

  /** Sets a status and tells the watchers of that service when it changed. */
  set(service: string, status: ServingStatusName): void {
    if (this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    this.#notify(service, status);
  }

  /** Forgets a service: Check answers NOT_FOUND and watchers see SERVICE_UNKNOWN. */
  delete(service: string): void {
    if (!this.#statuses.delete(service)) return;
    this.#notify(service, undefined);
  }

  /** Marks every known service NOT_SERVING and ends every watch. Later updates are still stored. */
  shutdown(): void {
    for (const service of this.#statuses.keys()) this.set(service, 'NOT_SERVING');
    this.#shutDown = true;
    for (const listener of [...this.#closeListeners]) listener();
  }

  /** Accepts watches again after shutdown(). */
  resume(): void {
    this.#shutDown = false;
  }

  /** Calls `listener` on every change of `service`; returns the function that stops it. */
  watch(service: string, listener: Listener, onShutdown: () => void): () => void {
    let set = this.#listeners.get(service);
    if (!set) this.#listeners.set(service, (set = new Set()));
    set.add(listener);
    this.#closeListeners.add(onShutdown);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(service);
      this.#closeListeners.delete(onShutdown);
    };
  }

  #notify(service: string, status: ServingStatusName | undefined): void {
    const set = this.#listeners.get(service);
    if (set) for (const listener of [...set]) listener(status);
  }
}
