/**
 * Makes any raw Duplex from a transport usable as ws's socket. ws calls a few
 * net.Socket methods when present and relies on 'close' to finish; a Duplex
 * over Http.sys opaque I/O has none of the socket methods, and may not destroy
 * itself when both directions end. Real sockets are left as they are.
 */
import { finished, type Duplex } from 'node:stream';

type SocketLike = Duplex & {
  setTimeout?: (timeout: number, callback?: () => void) => unknown;
  setNoDelay?: (noDelay?: boolean) => unknown;
  setKeepAlive?: (enable?: boolean, initialDelay?: number) => unknown;
};

export function prepareSocket(stream: Duplex): void {
  const socket = stream as SocketLike;
  const self = (): Duplex => socket;
  if (typeof socket.setTimeout !== 'function') socket.setTimeout = self;
  if (typeof socket.setNoDelay !== 'function') socket.setNoDelay = self;
  if (typeof socket.setKeepAlive !== 'function') socket.setKeepAlive = self;
  // Once both directions are done (or the stream failed) the stream must be
  // destroyed so that 'close' is emitted and ws releases the connection.
  const stopWatching = finished(socket, () => {
    stopWatching();
    if (!socket.destroyed) socket.destroy();
  });
}
