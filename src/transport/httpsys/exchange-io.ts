/** What one exchange's request side and response side share with the queue. */
import type { Duplex } from 'node:stream';
import type { NativeCapabilities, NativeRequestQueue } from '../../native/types.js';
import type { Capabilities, Logger } from '../types.js';

export interface ExchangeIo {
  readonly queue: NativeRequestQueue;
  readonly id: bigint;
  readonly method: string;
  readonly httpVersion: string;
  readonly http2: boolean;
  readonly host: NativeCapabilities;
  readonly capabilities: Capabilities;
  readonly logger: Logger;
  /** Most sends in flight at once for one response. */
  readonly maxSendsInFlight: number;
  /** Largest response body buffered whole where bodies cannot be streamed. */
  readonly bufferLimit: number;
  /** True once the queue's handle is closing: nothing more may be sent or cancelled. */
  queueClosing(): boolean;
  /** A send or read failed (usually: the client is gone). */
  failed(err: Error): void;
  /** The response is complete, reset or abandoned: release what the exchange holds. */
  settled(): void;
  /** The exchange is being reset with this code. */
  resetting(code: number): void;
  /** The exchange became a raw stream; it is destroyed if the exchange is aborted. */
  upgraded(stream: Duplex): void;
}
