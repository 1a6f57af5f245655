/** Loads the native addon for the Http.sys backend, with a clear error where it cannot load. */
import { BackendUnavailableError } from '../errors.js';
import type { NativeBinding } from '../../native/types.js';

let cached: NativeBinding | undefined;

export async function loadBinding(): Promise<NativeBinding> {
  if (cached !== undefined) return cached;
  if (process.platform !== 'win32') {
    throw new BackendUnavailableError(
      'httpsys',
      `the Http.sys backend needs Windows (this is ${process.platform}); use backend 'node' or 'auto'`,
    );
  }
  try {
    const specifier = '../../native/load.js';
    const mod = (await import(specifier)) as { loadNative(): NativeBinding };
    cached = mod.loadNative();
    return cached;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new BackendUnavailableError('httpsys', `the Http.sys native addon could not be loaded: ${detail}`, { cause: err });
  }
}
