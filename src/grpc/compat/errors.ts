/**
 * grpc-js handlers report failures as `{ code, details, metadata }` objects or
 * ServiceErrors (Errors with those fields); these become GrpcErrors.
 */
import { GrpcError } from '../error.js';
import { Metadata } from '../metadata.js';
import { Status, isStatus } from '../status.js';
import { copyIntoMetadata, isGrpcJsMetadataLike } from './metadata.js';

const DETAILS_KEY = 'grpc-status-details-bin';

interface StatusLike {
  code?: unknown;
  details?: unknown;
  message?: unknown;
  metadata?: unknown;
}

/** The status a grpc-js server would send for `error`: its code (UNKNOWN when missing), details or message, metadata. */
export function grpcErrorFromGrpcJs(error: unknown): GrpcError {
  if (error instanceof GrpcError) return error;
  const e: StatusLike = error !== null && typeof error === 'object' ? (error as StatusLike) : { message: String(error) };
  const code = isStatus(e.code) && e.code !== Status.OK ? e.code : Status.UNKNOWN;
  const message =
    typeof e.details === 'string' && e.details !== ''
      ? e.details
      : typeof e.message === 'string'
        ? e.message
        : 'Unknown Error';
  let metadata: Metadata | undefined;
  let details: Uint8Array | undefined;
  if (e.metadata instanceof Metadata) metadata = e.metadata;
  else if (isGrpcJsMetadataLike(e.metadata)) {
    copyIntoMetadata((metadata = new Metadata()), e.metadata);
    // grpc-js services send rich error details as this (otherwise reserved) metadata entry.
    const rich = e.metadata.toJSON()[DETAILS_KEY]?.[0];
    if (rich instanceof Uint8Array) details = rich;
  }
  return new GrpcError(code, message, { ...(metadata ? { metadata } : {}), ...(details ? { details } : {}), cause: error });
}

/** True when an emitted "error" is really a request to end the stream with OK and these trailers. */
export function isOkStatus(error: unknown): error is StatusLike {
  return error !== null && typeof error === 'object' && (error as StatusLike).code === Status.OK;
}
