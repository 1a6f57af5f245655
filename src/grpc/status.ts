/** gRPC status codes (google.rpc.Code). */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** One of the numeric codes in `Status`. */
export type Status = (typeof Status)[keyof typeof Status];

const names: readonly string[] = Object.keys(Status);

/** "NOT_FOUND" for 5; "CODE_<n>" for a number outside the table. */
export function statusName(code: number): string {
  return Number.isInteger(code) && code >= 0 && code < names.length ? names[code]! : `CODE_${code}`;
}

/** True for an integer 0–16. */
export function isStatus(code: unknown): code is Status {
  return typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 16;
}

const httpByCode: readonly number[] = [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401];

/** The HTTP status a gRPC code maps to when a call is served as plain HTTP (JSON transcoding). */
export function httpStatusFromGrpc(code: number): number {
  return isStatus(code) ? httpByCode[code]! : 500;
}

/**
 * The gRPC code a client derives from a non-200 HTTP response that carried no
 * grpc-status (the mapping in grpc's http-grpc-status-mapping document).
 */
export function grpcStatusFromHttp(httpStatus: number): Status {
  switch (httpStatus) {
    case 400:
      return Status.INTERNAL;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    case 404:
      return Status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Status.UNAVAILABLE;
    default:
      return Status.UNKNOWN;
  }
}
