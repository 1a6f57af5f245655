import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeGrpcMessage, encodeGrpcMessage } from '../../src/grpc/index.js';

test('printable ASCII except % passes through; everything else is %XX of UTF-8', () => {
  assert.equal(encodeGrpcMessage('plain text ~!'), 'plain text ~!');
  assert.equal(encodeGrpcMessage('100%'), '100%25');
  assert.equal(encodeGrpcMessage('a\tb\r\n'), 'a%09b%0D%0A');
  assert.equal(encodeGrpcMessage('☺'), '%E2%98%BA');
  assert.equal(encodeGrpcMessage('😈'), '%F0%9F%98%88');
});

test('the interop special status message round-trips', () => {
  const m = '\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n';
  const e = encodeGrpcMessage(m);
  assert.match(e, /^[\x20-\x7e]*$/);
  assert.equal(decodeGrpcMessage(e), m);
});

test('decoding keeps malformed escapes and invalid UTF-8 as sent', () => {
  assert.equal(decodeGrpcMessage('50%'), '50%');
  assert.equal(decodeGrpcMessage('%zz'), '%zz');
  assert.equal(decodeGrpcMessage('%e2%98%ba'), '☺');
  assert.equal(decodeGrpcMessage('%FF%FE'), '%FF%FE');
});

test('property: every string round-trips and encodes to printable ASCII', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), (s) => {
      const e = encodeGrpcMessage(s);
      assert.match(e, /^[\x20-\x7e]*$/);
      assert.equal(decodeGrpcMessage(e), s);
    }),
    { numRuns: 1000 },
  );
});

test('fuzz: decoding never throws', () => {
  fc.assert(fc.property(fc.string(), (s) => void decodeGrpcMessage(s)), { numRuns: 2000 });
});
