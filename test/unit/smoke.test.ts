import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamResetError, Http2ErrorCode } from '../../src/index.js';

test('StreamResetError carries its HTTP/2 code', () => {
  const e = new StreamResetError(Http2ErrorCode.CANCEL);
  assert.equal(e.code, 8);
  assert.match(e.message, /8/);
});
