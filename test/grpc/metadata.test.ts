import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeBinaryValue, encodeBinaryValue, GrpcError, Metadata, metadataFromHeaders, Status } from '../../src/grpc/index.js';
import { checkMetadataHeaders, checkMetadataRecord } from '../../src/grpc/metadata.js';

const limits = { maxSize: 8192 };

test('names are lower-cased and checked; grpc-* is reserved; -bin takes bytes, text takes printable ASCII', () => {
  const md = new Metadata();
  md.set('X-Trace', 'abc');
  assert.equal(md.get('x-trace'), 'abc');
  md.add('x-trace', 'def');
  assert.deepEqual(md.getAll('X-TRACE'), ['abc', 'def']);
  assert.throws(() => md.set('bad name', 'x'), TypeError);
  assert.throws(() => md.set('x:y', 'x'), TypeError);
  assert.throws(() => md.set('grpc-status', '0'), /reserved/);
  assert.throws(() => md.add('GRPC-Message', 'x'), /reserved/);
  for (const name of ['content-type', 'te', 'connection', 'transfer-encoding', 'host', 'content-length']) {
    assert.throws(() => md.set(name, 'x'), /HTTP header/, name);
  }
  assert.throws(() => new Metadata({ 'grpc-timeout': '1S' }), /reserved/);
  assert.throws(() => md.set('x-bin', 'text'), /Uint8Array/);
  assert.throws(() => md.set('x-text', new Uint8Array(1)), /string/);
  assert.throws(() => md.set('x-text', 'line\nbreak'), /printable/);
  md.set('x-bin', Uint8Array.from([1, 2]));
  assert.deepEqual(md.toJSON(), { 'x-trace': ['abc', 'def'], 'x-bin': 'AQI' });
  assert.equal(md.delete('x-trace'), true);
  assert.equal(md.has('x-trace'), false);
});

test('binary values go out unpadded and come in padded or not, split on commas', () => {
  assert.equal(encodeBinaryValue(Uint8Array.from([0xab, 0xab, 0xab, 0xab])), 'q6urqw');
  const md = metadataFromHeaders(
    [
      [':path', '/a/b'],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
      ['grpc-timeout', '1S'],
      ['x-a-bin', 'q6urqw==, q6urqw'],
      ['x-a-bin', 'AQI'],
      ['user-agent', 'test/1'],
    ],
    limits,
  );
  assert.deepEqual(
    md.getAll('x-a-bin').map((v) => [...(v as Uint8Array)]),
    [[0xab, 0xab, 0xab, 0xab], [0xab, 0xab, 0xab, 0xab], [1, 2]],
  );
  assert.equal(md.get('user-agent'), 'test/1');
  assert.equal(md.has('content-type'), false);
  assert.equal(md.has('grpc-timeout'), false);
  assert.equal(md.has('te'), false);
});

test('bad incoming metadata ends the call with a status', () => {
  const bad = (h: [string, string][], code: Status) =>
    assert.throws(() => metadataFromHeaders(h, limits), (e: unknown) => e instanceof GrpcError && e.code === code);
  bad([['x-bin', 'not base64!']], Status.INTERNAL);
  bad([['x-bin', 'A']], Status.INTERNAL);
  bad([['x-bin', 'AA=A']], Status.INTERNAL);
  bad([['x!y', 'v']], Status.INTERNAL);
  bad([['x-big', 'v'.repeat(9000)]], Status.RESOURCE_EXHAUSTED);
});

test('property: binary values round-trip through the wire form', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 5 }), fc.boolean(), (values, padded) => {
      const wire = values.map((v) => {
        const s = encodeBinaryValue(v);
        return padded ? s + '='.repeat((4 - (s.length % 4)) % 4) : s;
      });
      const md = metadataFromHeaders([['k-bin', wire.join(',')]], { maxSize: 1 << 20 });
      assert.deepEqual(md.getAll('k-bin').map((v) => [...(v as Uint8Array)]), values.map((v) => [...v]));
    }),
  );
});

test('fuzz: arbitrary header lines give metadata or a GrpcError, never another exception', () => {
  const name = fc.oneof(fc.stringMatching(/^[a-z0-9_.-]{1,10}(-bin)?$/), fc.string({ maxLength: 10 }));
  fc.assert(
    fc.property(fc.array(fc.tuple(name, fc.string({ maxLength: 40 })), { maxLength: 8 }), (lines) => {
      try {
        const md = metadataFromHeaders(lines, limits);
        for (const [k, v] of md) {
          assert.match(k, /^[0-9a-z_.-]+$/);
          assert.ok(typeof v === 'string' || v instanceof Uint8Array);
        }
      } catch (e) {
        assert.ok(e instanceof GrpcError, String(e));
      }
    }),
    { numRuns: 2000 },
  );
  fc.assert(fc.property(fc.string(), (s) => void decodeBinaryValue(s)), { numRuns: 2000 });
});

test('property: the check over the joined header record agrees with the check over the lines', () => {
  const name = fc.oneof(
    fc.constantFrom('x-a', 'x-b', 'x-a-bin', 'te', 'content-type', 'grpc-timeout', 'cookie', '7x', 'user-agent'),
    fc.stringMatching(/^[a-z0-9_.-]{1,8}(-bin)?$/),
    fc.string({ maxLength: 6 }),
  );
  const value = fc.oneof(
    fc.constantFrom('AQI', 'AQI=', 'AA=A', '@@', 'a, b', 'a;b', 'a; b', 'trailers', 'v'.repeat(3000)),
    fc.string({ maxLength: 30 }),
  );
  let decided = 0;
  fc.assert(
    fc.property(fc.array(fc.tuple(name, value), { maxLength: 8 }), fc.integer({ min: 0, max: 9000 }), (lines, maxSize) => {
      // The record a transport builds from the lines (lower-case names, repeats joined).
      const record: Record<string, string> = Object.create(null) as Record<string, string>;
      for (const [n, v] of lines) record[n] = record[n] === undefined ? v : record[n] + (n === 'cookie' ? '; ' : ', ') + v;
      const fromRecord = checkMetadataRecord(record, { maxSize });
      let fromLines: number | GrpcError;
      try {
        fromLines = checkMetadataHeaders(lines, { maxSize });
      } catch (e) {
        assert.ok(e instanceof GrpcError, String(e));
        fromLines = e;
      }
      if (fromRecord >= 0) {
        decided++;
        assert.equal(fromLines, fromRecord, 'a count from the record is the count from the lines');
      }
      const repeated = new Set(lines.map(([n]) => n)).size !== lines.length;
      const plain = lines.every(([n, v]) => !v.includes(', ') && !v.includes('; ') && !/^[0-9]/.test(n));
      if (!repeated && plain && typeof fromLines === 'number') {
        assert.equal(fromRecord, fromLines, 'fields that each came as one line are decided from the record');
      }
    }),
    { numRuns: 3000 },
  );
  assert.ok(decided > 0);
});
