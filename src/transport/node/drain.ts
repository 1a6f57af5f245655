import type { Writable } from 'node:stream';

/**
 * Resolves when `stream` asks for more data ('drain'), or rejects with `gone()`
 * if it closes first. Called only after a write returned false.
 */
export function drained(stream: Writable, gone: () => Error): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(gone());
    };
    stream.on('drain', onDrain);
    stream.on('close', onClose);
  });
}
