import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync, deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { compress, decompress, GrpcError, parseEncodingList, Status } from '../../src/grpc/index.js';

test('gzip and deflate round-trip, small (synchronous) and large (thread pool)', async () => {
  for (const size of [0, 100, 100_000]) {
    const data = Buffer.alloc(size, 'abc');
    for (const enc of ['gzip', 'deflate'] as const) {
      const packed = await compress(enc, data);
      assert.deepEqual(Buffer.from(await decompress(enc, packed, 1 << 20)), data);
    }
  }
  const same = new Uint8Array(3);
  assert.equal(compress('identity', same), same);
});

test('a compression bomb stops at the limit with RESOURCE_EXHAUSTED', async () => {
  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024)); // ~64 KiB of gzip → 64 MiB
  assert.ok(bomb.byteLength < 100 * 1024);
  const before = process.memoryUsage().arrayBuffers;
  await assert.rejects(
    Promise.resolve().then(() => decompress('gzip', bomb, 4 * 1024 * 1024)),
    (e: unknown) => e instanceof GrpcError && e.code === Status.RESOURCE_EXHAUSTED,
  );
  assert.ok(process.memoryUsage().arrayBuffers - before < 32 * 1024 * 1024);
  const small = deflateSync(Buffer.alloc(10_000));
  await assert.rejects(
    Promise.resolve().then(() => decompress('deflate', small, 9_999)),
    (e: unknown) => e instanceof GrpcError && e.code === Status.RESOURCE_EXHAUSTED,
  );
});

test('corrupt compressed data is INTERNAL', async () => {
  for (const enc of ['gzip', 'deflate'] as const) {
    await assert.rejects(
      Promise.resolve().then(() => decompress(enc, Buffer.from('definitely not compressed'), 1000)),
      (e: unknown) => e instanceof GrpcError && e.code === Status.INTERNAL,
    );
  }
});

test('fuzz: arbitrary bytes decompress or fail with a GrpcError', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.constantFrom('gzip' as const, 'deflate' as const), async (bytes, enc) => {
      try {
        await decompress(enc, bytes, 4096);
      } catch (e) {
        assert.ok(e instanceof GrpcError, String(e));
      }
    }),
    { numRuns: 500 },
  );
});

test('encoding lists are trimmed and lower-cased', () => {
  assert.deepEqual(parseEncodingList(' identity, GZIP ,deflate,,'), ['identity', 'gzip', 'deflate']);
  assert.deepEqual(parseEncodingList(undefined), []);
});
