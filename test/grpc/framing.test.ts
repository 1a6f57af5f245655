import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFrame, FrameDecoder, GrpcError, readFrames, Status, type Frame } from '../../src/grpc/index.js';
import { splitWholeFrames } from '../../src/grpc/framing.js';

function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

async function* chunks(list: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of list) yield c;
}

async function collect(list: Uint8Array[], max = 1 << 20): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of readFrames(chunks(list), max)) out.push({ compressed: f.compressed, payload: Uint8Array.from(f.payload) });
  return out;
}

test('encodeFrame writes flag, big-endian length and payload', () => {
  const f = encodeFrame(new Uint8Array([1, 2, 3]), true);
  assert.deepEqual([...f], [1, 0, 0, 0, 3, 1, 2, 3]);
  assert.deepEqual([...encodeFrame(new Uint8Array(0))], [0, 0, 0, 0, 0]);
  const big = encodeFrame(new Uint8Array(0x01020304 & 0xffff));
  assert.deepEqual([...big.subarray(0, 5)], [0, 0, 0, 0x03, 0x04]);
});

test('property: any messages split at any chunk boundaries decode to the same messages', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ compressed: fc.boolean(), payload: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      async (messages, cuts) => {
        const wire = Buffer.concat(messages.map((m) => encodeFrame(m.payload, m.compressed)));
        const decoded = await collect(split(wire, cuts));
        assert.deepEqual(
          decoded.map((d) => [d.compressed, [...d.payload]]),
          messages.map((m) => [m.compressed, [...m.payload]]),
        );
      },
    ),
    { numRuns: 300 },
  );
});

test('a body that stops inside a frame ends with INTERNAL', async () => {
  const wire = encodeFrame(new Uint8Array(10));
  for (const cut of [1, 4, 5, 14]) {
    await assert.rejects(collect([wire.subarray(0, cut)]), (e: unknown) => e instanceof GrpcError && e.code === Status.INTERNAL);
  }
});

test('a flag byte other than 0 or 1 ends with INTERNAL', async () => {
  await assert.rejects(collect([Uint8Array.from([2, 0, 0, 0, 0])]), (e: unknown) => e instanceof GrpcError && e.code === Status.INTERNAL && /flag/.test(e.message));
});

test('a declared length over the limit is refused from the header alone, before buffering', () => {
  const frames: Frame[] = [];
  const d = new FrameDecoder(100, (f) => frames.push(f));
  assert.throws(
    () => d.push(Uint8Array.from([0, 0xff, 0xff, 0xff, 0xff])),
    (e: unknown) => e instanceof GrpcError && e.code === Status.RESOURCE_EXHAUSTED && /4294967295 vs\. 100/.test(e.message),
  );
  assert.equal(frames.length, 0);
});

test('a payload inside one chunk is handed over without copying', () => {
  const wire = encodeFrame(Uint8Array.from([7, 8, 9]));
  let got: Uint8Array | undefined;
  new FrameDecoder(10, (f) => (got = f.payload)).push(wire);
  assert.equal(got!.buffer, wire.buffer);
});

test('fuzz: arbitrary bytes either decode or fail with a GrpcError status, never anything else', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 10 }), fc.integer({ min: 0, max: 64 }), async (bytes, cuts, max) => {
      try {
        await collect(split(bytes, cuts), max);
      } catch (e) {
        assert.ok(e instanceof GrpcError, `unexpected ${String(e)}`);
        assert.ok(e.code === Status.INTERNAL || e.code === Status.RESOURCE_EXHAUSTED);
      }
    }),
    { numRuns: 1000 },
  );
});

test('property: a chunk of whole frames splits into the frames a decoder reads; any other chunk is left to the decoder', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ compressed: fc.boolean(), payload: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 5 }),
      fc.nat(),
      fc.nat({ max: 3 }),
      fc.integer({ min: 0, max: 50 }),
      (messages, cut, corrupt, maxLength) => {
        let chunk: Uint8Array = Buffer.concat(messages.map((m) => encodeFrame(m.payload, m.compressed)));
        if (chunk.length > 0) {
          if (corrupt === 1) chunk = chunk.subarray(0, cut % chunk.length); // ends inside a frame
          if (corrupt === 2) chunk = Uint8Array.from(chunk, (b, i) => (i === 0 ? 2 + (b % 200) : b)); // bad flag
        }
        const split: Frame[] = [];
        const whole = splitWholeFrames(chunk, maxLength, split);
        const decoded: Frame[] = [];
        const decoder = new FrameDecoder(maxLength, (f) => decoded.push(f));
        let error: unknown;
        try {
          decoder.push(chunk);
        } catch (e) {
          error = e;
        }
        const wholeRun = error === undefined && decoder.idle;
        assert.equal(whole, wholeRun, 'split exactly when the decoder reads whole frames and nothing is left');
        if (whole) {
          assert.deepEqual(split.map((f) => [f.compressed, [...f.payload]]), decoded.map((f) => [f.compressed, [...f.payload]]));
        } else {
          assert.equal(split.length, 0);
        }
      },
    ),
    { numRuns: 2000 },
  );
});
