/** The one Http.sys server session of this process, opened on first use and closed after its last user. */
import type { NativeBinding, NativeServerSession } from '../../native/types.js';
import { toHttpSysError } from './errors.js';

let shared: { binding: NativeBinding; session: NativeServerSession; users: number } | undefined;

/** Borrow the process's server session; call the returned function to give it back. */
export function acquireServerSession(binding: NativeBinding): { session: NativeServerSession; release: () => void } {
  if (shared === undefined || shared.binding !== binding) {
    let session: NativeServerSession;
    try {
      session = new binding.ServerSession();
    } catch (err) {
      throw toHttpSysError(err, 'creating the Http.sys server session');
    }
    shared = { binding, session, users: 0 };
  }
  const entry = shared;
  entry.users++;
  let released = false;
  return {
    session: entry.session,
    release: () => {
      if (released) return;
      released = true;
      entry.users--;
      if (entry.users === 0) {
        if (shared === entry) shared = undefined;
        try {
          entry.session.close();
        } catch {
          // Closing an already closed session is harmless.
        }
      }
    },
  };
}
