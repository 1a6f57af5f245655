import type { Metadata } from './metadata.js';
import { Status, isStatus, statusName } from './status.js';

export interface GrpcErrorOptions {
  /** Serialized google.rpc.Status, sent as grpc-status-details-bin (see encodeStatusDetails). */
  readonly details?: Uint8Array;
  /** Extra trailers sent with the status. */
  readonly metadata?: Metadata;
  readonly cause?: unknown;
}

/** A call outcome other than OK. Throw it from a handler or interceptor to end the call with this status. */
export class GrpcError extends Error {
  override readonly name = 'GrpcError';
  readonly code: Status;
  readonly details: Uint8Array | undefined;
  readonly metadata: Metadata | undefined;

  constructor(code: Status, message = '', options: GrpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = isStatus(code) && code !== Status.OK ? code : Status.UNKNOWN;
    this.details = options.details;
    this.metadata = options.metadata;
  }

  /** "NOT_FOUND: no such user" */
  override toString(): string {
    return `${statusName(this.code)}: ${this.message}`;
  }
}
