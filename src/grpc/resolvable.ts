/**
 * Pending promises without a closure each: the executor is one shared
 * function that leaves the resolver in a module variable (an executor runs
 * synchronously, inside the Promise constructor), where the caller takes it
 * at once:
 *
 *     const promise = pendingPromise<T>();
 *     const resolve = takeResolver<T>();
 */
let handedOver: ((value: never) => void) | undefined;

function keepResolver(resolve: (value: never) => void): void {
  handedOver = resolve;
}

/** A new pending promise; its resolver must be taken with `takeResolver` right after. */
export function pendingPromise<T>(): Promise<T> {
  return new Promise<T>(keepResolver as (resolve: (value: T) => void) => void);
}

/** The resolver of the promise `pendingPromise` just made. */
export function takeResolver<T>(): (value: T) => void {
  const resolve = handedOver as unknown as (value: T) => void;
  handedOver = undefined;
  return resolve;
}
