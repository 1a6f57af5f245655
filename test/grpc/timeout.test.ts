import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatTimeout, GrpcError, parseTimeout, Status } from '../../src/grpc/index.js';

test('grpc-timeout units', () => {
  assert.equal(parseTimeout('1H'), 3_600_000);
  assert.equal(parseTimeout('2M'), 120_000);
  assert.equal(parseTimeout('3S'), 3000);
  assert.equal(parseTimeout('250m'), 250);
  assert.equal(parseTimeout('1500u'), 1.5);
  assert.equal(parseTimeout('2000000n'), 2);
  assert.equal(parseTimeout('0m'), 0);
  assert.equal(parseTimeout('00000001S'), 1000);
});

test('the largest value (8 digits of hours) stays a finite number of milliseconds', () => {
  const ms = parseTimeout('99999999H');
  assert.equal(ms, 99_999_999 * 3_600_000);
  assert.ok(Number.isSafeInteger(ms));
});

test('malformed values are INTERNAL errors', () => {
  for (const bad of ['', 'S', '1', '123456789S', '1s', '1 S', ' 1S', '-1S', '1.5S', '1SS', 'abcS', '１S', '1h']) {
    assert.throws(() => parseTimeout(bad), (e: unknown) => e instanceof GrpcError && e.code === Status.INTERNAL, bad);
  }
});

test('property: format then parse gives at least the requested time', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 45 }), (ms) => {
      const v = formatTimeout(ms);
      assert.match(v, /^\d{1,8}[HMSm]$/);
      assert.ok(parseTimeout(v) >= ms);
    }),
  );
});

test('fuzz: any string parses to a non-negative number or throws a GrpcError', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 12 }), fc.stringMatching(/^[0-9]{0,10}[HMSmunx]?$/)), (s) => {
      try {
        const ms = parseTimeout(s);
        assert.ok(Number.isFinite(ms) && ms >= 0);
        assert.match(s, /^\d{1,8}[HMSmun]$/);
      } catch (e) {
        assert.ok(e instanceof GrpcError && e.code === Status.INTERNAL);
      }
    }),
    { numRuns: 2000 },
  );
});
