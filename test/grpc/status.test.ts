import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GrpcError, grpcStatusFromHttp, httpStatusFromGrpc, Metadata, Status, statusName } from '../../src/grpc/index.js';

test('the 17 codes, their names and HTTP mapping', () => {
  assert.equal(Object.keys(Status).length, 17);
  assert.equal(Status.UNAUTHENTICATED, 16);
  assert.equal(statusName(5), 'NOT_FOUND');
  assert.equal(statusName(99), 'CODE_99');
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16].map(httpStatusFromGrpc),
    [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401],
  );
  assert.equal(grpcStatusFromHttp(404), Status.UNIMPLEMENTED);
  assert.equal(grpcStatusFromHttp(503), Status.UNAVAILABLE);
});

test('GrpcError keeps code, message, details and metadata; invalid codes become UNKNOWN', () => {
  const md = new Metadata({ 'x-a': 'b' });
  const e = new GrpcError(Status.NOT_FOUND, 'no such user', { details: Uint8Array.of(1), metadata: md });
  assert.equal(e.code, 5);
  assert.equal(e.message, 'no such user');
  assert.deepEqual([...e.details!], [1]);
  assert.equal(e.metadata, md);
  assert.equal(String(e), 'NOT_FOUND: no such user');
  assert.equal(new GrpcError(42 as Status, 'x').code, Status.UNKNOWN);
  assert.equal(new GrpcError(Status.OK, 'x').code, Status.UNKNOWN);
});
