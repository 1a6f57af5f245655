/** Loads the native addon for the Http.sys backend, with a clear error where it cannot load. */
import { loadNative } from '../../native/load.js';
import type { NativeBinding } from '../../native/types.js';
import { BackendUnavailableError } from '../errors.js';

/** The addon, or BackendUnavailableError saying why it cannot load here. */
export function loadBinding(): NativeBinding {
  try {
    return loadNative();
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new BackendUnavailableError('httpsys', detail, { cause: err });
  }
}
