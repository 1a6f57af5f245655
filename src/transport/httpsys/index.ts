/**
 * The Http.sys backend of the request-queue API: the native addon's server
 * session, URL groups and request queue behind the transport contract.
 */
import type { BackendOpenOptions, BackendQueue } from '../types.js';
import { loadBinding } from './native-binding.js';
import { HttpSysQueue } from './queue.js';

export { HttpSysError, HttpSysUnsupportedError, ResponseTooLargeError, ExchangeResetError } from './errors.js';
export { DEFAULT_BUFFERED_RESPONSE_LIMIT, WINE_BUFFERED_RESPONSE_LIMIT } from './response-sink.js';

/** Open a request queue on Http.sys (Windows, or Wine for the subset it hosts). */
export async function openHttpSysQueue(options: BackendOpenOptions): Promise<BackendQueue> {
  const binding = loadBinding();
  return HttpSysQueue.open(binding, options);
}
