import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http2 from 'node:http2';
import fc from 'fast-check';
import { HpackDecoder, HpackError, encodeHeaderBlock } from '../../src/transport/h2/hpack.js';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS, huffmanDecode, huffmanEncode, huffmanEncodedLength } from '../../src/transport/h2/huffman.js';
import { STATIC_NAMES, STATIC_VALUES, STATIC_TABLE_LENGTH } from '../../src/transport/h2/static-table.js';

/** Hex from the RFC (spaces and line breaks allowed) → bytes. */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

function decodeAll(decoder: HpackDecoder, block: Uint8Array, max = Infinity): string[] | null {
  return decoder.decode(block, 0, block.length, max);
}

function flat(pairs: ReadonlyArray<readonly [string, string]>): string[] {
  return pairs.flatMap(([n, v]) => [n, v]);
}

function table(decoder: HpackDecoder): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 1; i <= decoder.tableLength; i++) out.push(decoder.tableEntry(i)!);
  return out;
}

function assertHpackError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof HpackError, `expected HpackError, got ${String(e)}`);
    assert.equal(e.name, 'HpackError');
    assert.match(e.message, pattern);
    return true;
  });
}

describe('static table', () => {
  test('has the 61 entries of RFC 7541 Appendix A', () => {
    assert.equal(STATIC_TABLE_LENGTH, 61);
    assert.equal(STATIC_NAMES[1], ':authority');
    assert.equal(STATIC_NAMES[8], ':status');
    assert.equal(STATIC_VALUES[8], '200');
    assert.equal(STATIC_VALUES[16], 'gzip, deflate');
    assert.equal(STATIC_NAMES[31], 'content-type');
    assert.equal(STATIC_NAMES[55], 'set-cookie');
    assert.equal(STATIC_NAMES[61], 'www-authenticate');
  });
});

describe('Huffman code', () => {
  test('derived codes match RFC 7541 Appendix B samples', () => {
    // (symbol, code, length) rows of Appendix B.
    const rows: Array<[number, number, number]> = [
      [0, 0x1ff8, 13], [1, 0x7fffd8, 23], [10, 0x3ffffffc, 30], [32, 0x14, 6],
      [48, 0x0, 5], [97, 0x3, 5], [92, 0x7fff0, 19], [127, 0xffffffc, 28],
      [128, 0xfffe6, 20], [200, 0x3ffffe2, 26], [255, 0x3ffffee, 26], [256, 0x3fffffff, 30],
    ];
    for (const [sym, code, len] of rows) {
      assert.equal(HUFFMAN_LENGTHS[sym], len, `length of ${sym}`);
      assert.equal(HUFFMAN_CODES[sym], code, `code of ${sym}`);
    }
  });

  test('encode then decode gives back every latin1 string', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.nat(255).map((c) => String.fromCharCode(c)), maxLength: 300 }), (s) => {
        const n = huffmanEncodedLength(s);
        const buf = Buffer.alloc(n + 2);
        const end = huffmanEncode(s, buf, 1);
        assert.equal(end, n + 1);
        assert.equal(huffmanDecode(buf, 1, end), s);
      }),
      { numRuns: 500 },
    );
  });

  test('encodes "www.example.com" as in RFC 7541 C.4.1', () => {
    const s = 'www.example.com';
    const buf = Buffer.alloc(huffmanEncodedLength(s));
    huffmanEncode(s, buf, 0);
    assert.equal(buf.toString('hex'), 'f1e3c2e5f23a6ba0ab90f4ff');
  });

  test('rejects EOS, long padding and padding that is not all ones', () => {
    assert.equal(huffmanDecode(hex('1f'), 0, 1), 'a'); // 00011 + 111
    assert.equal(huffmanDecode(hex('18'), 0, 1), null); // 00011 + 000
    assert.equal(huffmanDecode(hex('1fff'), 0, 2), null); // 'a' + 11 bits of padding
    assert.equal(huffmanDecode(hex('ff'), 0, 1), null); // 8 bits of padding
    assert.equal(huffmanDecode(hex('fffffffc'), 0, 4), null); // EOS (30 ones)
    assert.equal(huffmanDecode(hex(''), 0, 0), '');
  });
});

describe('RFC 7541 Appendix C.2: header field representations', () => {
  test('C.2.1 literal header field with indexing', () => {
    const d = new HpackDecoder();
    const block = hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572');
    assert.deepEqual(decodeAll(d, block), ['custom-key', 'custom-header']);
    assert.deepEqual(table(d), [['custom-key', 'custom-header']]);
    assert.equal(d.tableSize, 55);
  });

  test('C.2.2 literal header field without indexing', () => {
    const d = new HpackDecoder();
    assert.deepEqual(decodeAll(d, hex('040c 2f73 616d 706c 652f 7061 7468')), [':path', '/sample/path']);
    assert.equal(d.tableLength, 0);
    assert.equal(d.tableSize, 0);
  });

  test('C.2.3 literal header field never indexed', () => {
    const d = new HpackDecoder();
    assert.deepEqual(decodeAll(d, hex('1008 7061 7373 776f 7264 0673 6563 7265 74')), ['password', 'secret']);
    assert.equal(d.tableLength, 0);
  });

  test('C.2.4 indexed header field', () => {
    const d = new HpackDecoder();
    assert.deepEqual(decodeAll(d, hex('82')), [':method', 'GET']);
    assert.equal(d.tableLength, 0);
  });
});

const REQ1 = [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com'];
const REQ2 = [...REQ1, 'cache-control', 'no-cache'];
const REQ3 = [':method', 'GET', ':scheme', 'https', ':path', '/index.html', ':authority', 'www.example.com', 'custom-key', 'custom-value'];

function checkRequests(blocks: string[]): void {
  const d = new HpackDecoder();
  assert.deepEqual(decodeAll(d, hex(blocks[0]!)), REQ1);
  assert.deepEqual(table(d), [[':authority', 'www.example.com']]);
  assert.equal(d.tableSize, 57);

  assert.deepEqual(decodeAll(d, hex(blocks[1]!)), REQ2);
  assert.deepEqual(table(d), [['cache-control', 'no-cache'], [':authority', 'www.example.com']]);
  assert.equal(d.tableSize, 110);

  assert.deepEqual(decodeAll(d, hex(blocks[2]!)), REQ3);
  assert.deepEqual(table(d), [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']]);
  assert.equal(d.tableSize, 164);
}

test('RFC 7541 C.3: requests without Huffman coding', () => {
  checkRequests([
    '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
    '8286 84be 5808 6e6f 2d63 6163 6865',
    '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
  ]);
});

test('RFC 7541 C.4: requests with Huffman coding', () => {
  checkRequests([
    '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
    '8286 84be 5886 a8eb 1064 9cbf',
    '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
  ]);
});

const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOCATION = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';

function checkResponses(blocks: string[]): void {
  const d = new HpackDecoder({ maxTableSize: 256 });
  // The peer's encoder shrinks its table to the advertised 256 first.
  assert.deepEqual(decodeAll(d, Buffer.from([0x3f, 0xe1, 0x01])), []);
  assert.equal(d.tableCapacity, 256);

  assert.deepEqual(decodeAll(d, hex(blocks[0]!)), [':status', '302', 'cache-control', 'private', 'date', DATE1, 'location', LOCATION]);
  assert.deepEqual(table(d), [['location', LOCATION], ['date', DATE1], ['cache-control', 'private'], [':status', '302']]);
  assert.equal(d.tableSize, 222);

  assert.deepEqual(decodeAll(d, hex(blocks[1]!)), [':status', '307', 'cache-control', 'private', 'date', DATE1, 'location', LOCATION]);
  assert.deepEqual(table(d), [[':status', '307'], ['location', LOCATION], ['date', DATE1], ['cache-control', 'private']]);
  assert.equal(d.tableSize, 222);

  assert.deepEqual(decodeAll(d, hex(blocks[2]!)), [
    ':status', '200', 'cache-control', 'private', 'date', DATE2, 'location', LOCATION,
    'content-encoding', 'gzip', 'set-cookie', COOKIE,
  ]);
  assert.deepEqual(table(d), [['set-cookie', COOKIE], ['content-encoding', 'gzip'], ['date', DATE2]]);
  assert.equal(d.tableSize, 215);
}

test('RFC 7541 C.5: responses without Huffman coding, with eviction', () => {
  checkResponses([
    `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d
     546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
    '4803 3330 37c1 c0bf',
    `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f
     6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b
     2076 6572 7369 6f6e 3d31`,
  ]);
});

test('RFC 7541 C.6: responses with Huffman coding, with eviction', () => {
  checkResponses([
    `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7
     8f0b 97c8 e9ae 82ae 43d3`,
    '4883 640e ffc1 c0bf',
    `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335
     dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
  ]);
});

describe('dynamic table', () => {
  test('an entry larger than the table empties it and is not added', () => {
    const d = new HpackDecoder({ maxTableSize: 100 });
    const enc = (name: string, value: string): Buffer =>
      Buffer.concat([Buffer.from([0x40, name.length]), Buffer.from(name, 'latin1'), Buffer.from([value.length]), Buffer.from(value, 'latin1')]);
    assert.deepEqual(decodeAll(d, enc('a', 'b')), ['a', 'b']);
    assert.equal(d.tableSize, 34);
    assert.deepEqual(decodeAll(d, enc('big', 'x'.repeat(70))), ['big', 'x'.repeat(70)]);
    assert.equal(d.tableLength, 0);
    assert.equal(d.tableSize, 0);
    // Exactly the table size fits.
    assert.deepEqual(decodeAll(d, enc('n', 'v'.repeat(67))), ['n', 'v'.repeat(67)]);
    assert.equal(d.tableSize, 100);
    assert.equal(d.tableLength, 1);
  });

  test('a size update evicts down to the new size; indexes follow the newest-first order', () => {
    const d = new HpackDecoder();
    const parts: number[] = [];
    for (let i = 0; i < 40; i++) {
      const name = `h${i}`;
      const value = `v${i}`;
      parts.push(0x40, name.length, ...Buffer.from(name), value.length, ...Buffer.from(value));
    }
    decodeAll(d, Buffer.from(parts));
    assert.equal(d.tableLength, 40);
    assert.deepEqual(decodeAll(d, Buffer.from([0x80 | 62, 0x80 | 101])), ['h39', 'v39', 'h0', 'v0']);
    // Shrink to 3 entries of 36 octets each (h0..h9 are 36, h10.. are 38).
    decodeAll(d, Buffer.from([0x3f, 114 - 31, 0x82]));
    assert.equal(d.tableCapacity, 114);
    assert.deepEqual(table(d), [['h39', 'v39'], ['h38', 'v38'], ['h37', 'v37']]);
    assert.equal(d.tableSize, 114);
    assertHpackError(() => decodeAll(d, Buffer.from([0x80 | 65])), /past the end/);
    // Size 0 empties it.
    decodeAll(d, Buffer.from([0x20]));
    assert.equal(d.tableLength, 0);
    assert.equal(d.tableSize, 0);
  });

  test('a block over maxListSize returns null but still updates the table', () => {
    const d = new HpackDecoder();
    const value = 'y'.repeat(100);
    const first = Buffer.concat([hex('82 40 06'), Buffer.from('x-long'), Buffer.from([value.length]), Buffer.from(value)]);
    assert.equal(decodeAll(d, first, 100), null);
    assert.equal(d.tableLength, 1);
    // The next block refers to the entry the rejected block added.
    assert.deepEqual(decodeAll(d, hex('82 be'), 1000), [':method', 'GET', 'x-long', value]);
    // The limit counts name + value + 32 per field: exactly at the limit passes.
    assert.deepEqual(decodeAll(d, hex('be'), 6 + 100 + 32), ['x-long', value]);
    assert.equal(decodeAll(d, hex('be'), 6 + 100 + 31), null);
  });

  test('lowering the limit makes the next block begin with a size update', () => {
    const d = new HpackDecoder();
    d.setMaxTableSize(1024);
    assertHpackError(() => decodeAll(d, hex('82')), /must begin with a dynamic table size update/);
    const d2 = new HpackDecoder();
    d2.setMaxTableSize(1024);
    assertHpackError(() => decodeAll(d2, Buffer.from([0x3f, 0xe2, 0x07])), /exceeds the advertised 1024/); // 1025
    const d3 = new HpackDecoder();
    d3.setMaxTableSize(1024);
    assert.deepEqual(decodeAll(d3, Buffer.from([0x3f, 0xe1, 0x07, 0x82])), [':method', 'GET']); // 1024
    assert.equal(d3.tableCapacity, 1024);
    assert.deepEqual(decodeAll(d3, hex('82')), [':method', 'GET']);
  });
});

describe('repeated literal values', () => {
  test('a value sent as a literal on every block decodes the same each time', () => {
    const d = new HpackDecoder();
    // As nghttp2 sends :path: literal without indexing, Huffman-coded, name index 4.
    const path = '/helloworld.Greeter/SayHello';
    const n = huffmanEncodedLength(path);
    const huff = Buffer.alloc(n);
    huffmanEncode(path, huff, 0);
    const block = Buffer.concat([hex('83 04'), Buffer.from([0x80 | n]), huff, hex('86')]);
    const first = decodeAll(d, block)!;
    assert.deepEqual(first, [':method', 'POST', ':path', path, ':scheme', 'http']);
    for (let i = 0; i < 5; i++) assert.deepEqual(decodeAll(d, block), first);
    // The same octets without the H bit are a different string.
    const raw = Buffer.concat([hex('04'), Buffer.from([n]), huff]);
    assert.deepEqual(decodeAll(d, raw), [':path', huff.toString('latin1')]);
    assert.deepEqual(decodeAll(d, block), first);
  });

  test('values that differ only in the middle are told apart', () => {
    const d = new HpackDecoder();
    const values = ['/a0000z', '/a0100z', '/a0010z', '/a1000z', '/a0001z', '/b0000z'];
    for (let round = 0; round < 3; round++) {
      for (const v of values) {
        const block = Buffer.concat([hex('04'), Buffer.from([v.length]), Buffer.from(v, 'latin1')]);
        assert.deepEqual(decodeAll(d, block), [':path', v]);
        const never = Buffer.concat([hex('1f 1f'), Buffer.from([v.length]), Buffer.from(v, 'latin1')]);
        assert.deepEqual(decodeAll(d, never), ['location', v]);
      }
    }
  });

  test('a plain Uint8Array block decodes like a Buffer', () => {
    const bytes = new Uint8Array(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff 04 03 2f 61 62'));
    assert.deepEqual(new HpackDecoder().decode(bytes, 0, bytes.length, Infinity), [...REQ1, ':path', '/ab']);
  });

  test('round trip through one long-lived decoder', () => {
    const d = new HpackDecoder();
    const value = fc.string({ unit: fc.constantFrom(...'/ab0.xyz'), maxLength: 70 });
    const pair = fc.tuple(fc.constantFrom(':path', 'content-length', 'x-id', 'etag'), value);
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 10 }), (headers) => {
        assert.deepEqual(decodeAll(d, encodeHeaderBlock(undefined, headers)), flat(headers));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('decoding errors', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['index 0', '80', /index 0/],
    ['index past the static table on an empty dynamic table', 'be', /past the end/],
    ['literal name index past the end', '0f 2f 00', /past the end/],
    ['integer above 2^31 - 1', 'ff ff ff ff ff 0f', /exceeds 2\^31/],
    ['integer with too many continuation octets', 'ff 80 80 80 80 80 00', /too many continuation/],
    ['integer cut off after the prefix', 'ff', /truncated integer/],
    ['integer cut off inside continuation', 'ff 80', /truncated integer/],
    ['string length missing', '40', /missing length/],
    ['value missing', '04', /missing length/],
    ['string cut off', '40 05 61 62', /truncated string/],
    ['value cut off', '04 03 2f', /truncated string/],
    ['Huffman string containing EOS', '04 84 ff ff ff ff', /Huffman/],
    ['Huffman padding longer than 7 bits', '04 82 1f ff', /Huffman/],
    ['Huffman padding not all ones', '04 81 18', /Huffman/],
    ['size update above the advertised size', '3f e2 1f', /exceeds the advertised 4096/],
    ['size update after a field', '82 20', /after the first header field/],
  ];
  for (const [what, bytes, pattern] of cases) {
    test(what, () => {
      assertHpackError(() => decodeAll(new HpackDecoder(), hex(bytes)), pattern);
    });
  }

  test('the largest allowed values decode', () => {
    assert.deepEqual(decodeAll(new HpackDecoder(), hex('04 81 1f')), [':path', 'a']);
    assert.deepEqual(decodeAll(new HpackDecoder(), hex('3f e1 1f 82')), [':method', 'GET']);
    // 2^31 - 1 as an index parses as an integer, then is out of range.
    assertHpackError(() => decodeAll(new HpackDecoder(), hex('ff 80 ff ff ff 07')), /past the end/);
  });

  test('a block decodes within [start, end) only', () => {
    const d = new HpackDecoder();
    const buf = hex('ff 82 86 ff');
    assert.deepEqual(d.decode(buf, 1, 3, Infinity), [':method', 'GET', ':scheme', 'http']);
    assertHpackError(() => d.decode(hex('40 05 61 62 63 64 65'), 0, 4, Infinity), /truncated string/);
  });
});

test('fuzz: arbitrary bytes only ever fail with HpackError', () => {
  const shared = new HpackDecoder();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 4096 }), (bytes, max) => {
      for (const d of [new HpackDecoder(), shared]) {
        try {
          const out = d.decode(bytes, 0, bytes.length, max);
          if (out !== null) for (const s of out) assert.equal(typeof s, 'string');
        } catch (e) {
          if (!(e instanceof HpackError)) throw e;
        }
      }
    }),
    { numRuns: 5000 },
  );
});

test('fuzz: mutated valid blocks only ever fail with HpackError', () => {
  const seeds = [
    hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'),
    hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'),
    hex('4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7'),
  ];
  const shared = new HpackDecoder({ maxTableSize: 256 });
  fc.assert(
    fc.property(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }),
      fc.nat(),
      (seed, edits, cut) => {
        const bytes = Buffer.from(seed);
        for (const [at, v] of edits) bytes[at % bytes.length] = v;
        const end = cut % (bytes.length + 1);
        for (const d of [new HpackDecoder({ maxTableSize: 256 }), shared]) {
          try {
            d.decode(bytes, 0, end, Infinity);
          } catch (e) {
            if (!(e instanceof HpackError)) throw e;
          }
        }
      },
    ),
    { numRuns: 5000 },
  );
});

describe('encoder', () => {
  test('writes the representations the rules ask for', () => {
    // :status 200 → indexed 8; content-type → literal with indexed name 31.
    assert.equal(encodeHeaderBlock(200, [['content-type', 'application/grpc']]).toString('hex'), '88' + '0f10' + '10' + Buffer.from('application/grpc').toString('hex'));
    // :status 201 → literal with indexed name 8.
    assert.equal(encodeHeaderBlock(201, []).toString('hex'), '0803323031');
    // A full static match is indexed; as in C.2.2 and C.2.4.
    assert.equal(encodeHeaderBlock(undefined, [[':method', 'GET'], ['accept-encoding', 'gzip, deflate']]).toString('hex'), '8290');
    assert.deepEqual(encodeHeaderBlock(undefined, [[':path', '/sample/path']]), hex('040c 2f73 616d 706c 652f 7061 7468'));
    // A new name without indexing.
    assert.deepEqual(encodeHeaderBlock(undefined, [['password', 'secret']]), hex('0008 7061 7373 776f 7264 0673 6563 7265 74'));
    // Sensitive names are never indexed, with an indexed name.
    assert.deepEqual(encodeHeaderBlock(undefined, [['authorization', 'x']]), hex('1f08 0178'));
    assert.deepEqual(encodeHeaderBlock(undefined, [['cookie', 'a=b']]), hex('1f11 03 613d62'));
    assert.deepEqual(encodeHeaderBlock(undefined, [['set-cookie', '']]), hex('1f28 00'));
    assert.deepEqual(encodeHeaderBlock(undefined, [['proxy-authorization', 'p']]), hex('1f22 01 70'));
    // Every status code decodes back.
    for (let s = 100; s < 1000; s++) {
      assert.deepEqual(decodeAll(new HpackDecoder(), encodeHeaderBlock(s, [])), [':status', String(s)]);
    }
  });

  test('headroom leaves room before the block', () => {
    const block = encodeHeaderBlock(404, [['content-type', 'text/plain']], 9);
    assert.deepEqual(block.subarray(9), encodeHeaderBlock(404, [['content-type', 'text/plain']]));
    assert.deepEqual(new HpackDecoder().decode(block, 9, block.length, Infinity), [':status', '404', 'content-type', 'text/plain']);
  });

  test('long names and values use multi-octet lengths', () => {
    const value = 'v'.repeat(70000);
    const name = 'x-' + 'n'.repeat(200);
    const block = encodeHeaderBlock(undefined, [[name, value], ['content-type', value]]);
    assert.deepEqual(decodeAll(new HpackDecoder(), block), [name, value, 'content-type', value]);
  });

  test('round trip: any header list decodes back to itself', () => {
    const latin1 = fc.string({ unit: fc.nat(255).map((c) => String.fromCharCode(c)), maxLength: 200 });
    const staticName = fc.integer({ min: 1, max: STATIC_TABLE_LENGTH }).map((i) => STATIC_NAMES[i]!);
    const staticPair = fc.integer({ min: 1, max: STATIC_TABLE_LENGTH }).map((i): [string, string] => [STATIC_NAMES[i]!, STATIC_VALUES[i]!]);
    const tokenName = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.'), minLength: 1, maxLength: 40 });
    const pair = fc.oneof(
      fc.tuple(fc.oneof(staticName, tokenName, latin1), latin1),
      staticPair,
    );
    const status = fc.option(fc.integer({ min: 100, max: 999 }), { nil: undefined });
    fc.assert(
      fc.property(status, fc.array(pair, { maxLength: 40 }), (st, headers) => {
        const block = encodeHeaderBlock(st, headers);
        const decoder = new HpackDecoder();
        const expected = (st === undefined ? [] : [':status', String(st)]).concat(flat(headers));
        assert.deepEqual(decodeAll(decoder, block), expected);
        assert.equal(decoder.tableLength, 0, 'the encoder never inserts into the dynamic table');
      }),
      { numRuns: 1000 },
    );
  });
});

/** Frames a real node:http2 client sends to a raw TCP server, parsed far enough to collect header blocks. */
interface Capture {
  readonly blocks: Buffer[];
  /** Index in `blocks` at which the client had acknowledged our SETTINGS. */
  settingsAckAt: number;
}

async function captureClientHeaders(
  serverSettings: Buffer,
  drive: (client: http2.ClientHttp2Session, capture: Capture, port: number, done: () => void) => void,
): Promise<Capture> {
  const capture: Capture = { blocks: [], settingsAckAt: -1 };
  const sockets = new Set<net.Socket>();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.write(serverSettings);
    let buffered = Buffer.alloc(0);
    let prefaceSeen = false;
    let pending: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!prefaceSeen) {
        if (buffered.length < 24) return;
        assert.equal(buffered.subarray(0, 24).toString('latin1'), 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
        buffered = buffered.subarray(24);
        prefaceSeen = true;
      }
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        const type = buffered[3]!;
        const flags = buffered[4]!;
        let payload = buffered.subarray(9, 9 + length);
        buffered = buffered.subarray(9 + length);
        if (type === 0x4 && flags & 0x1) capture.settingsAckAt = capture.blocks.length;
        if (type === 0x4 && !(flags & 0x1)) socket.write(Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0])); // ACK
        if (type === 0x1 || type === 0x9) {
          if (type === 0x1) {
            let padLength = 0;
            if (flags & 0x8) {
              padLength = payload[0]!;
              payload = payload.subarray(1);
            }
            if (flags & 0x20) payload = payload.subarray(5);
            payload = payload.subarray(0, payload.length - padLength);
          }
          pending.push(Buffer.from(payload));
          if (flags & 0x4) {
            capture.blocks.push(Buffer.concat(pending));
            pending = [];
          }
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {});
  try {
    drive(client, capture, port, finish);
    await finished;
  } finally {
    client.destroy();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return capture;
}

/** Sorted [name, value] pairs of a flat list, so lists compare regardless of order. */
function pairsOf(list: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) out.push(`${list[i]}\u0000${list[i + 1]}`);
  return out.sort();
}

describe('interop with the node:http2 (nghttp2) encoder', () => {
  const emptySettings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i)).join('');

  function requestHeaders(i: number): http2.OutgoingHttpHeaders {
    return {
      ':method': i % 3 === 0 ? 'GET' : 'POST',
      ':path': `/pkg.Service/Method${i % 4}`,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': `${100 + i}m`,
      'user-agent': 'grpc-node-js/1.0',
      'x-request-id': `req-${i}-${'abcdefghijklmnopqrstuvwxyz'.slice(0, i % 26)}`,
      'x-printable': printable.slice(i % 40, 40 + (i % 50)).trim(),
      'x-big': 'lorem ipsum dolor sit amet '.repeat(1 + (i % 7)) + i,
      authorization: `Bearer token-${i}`,
      'x-constant': 'the same 48-octet value on every single request',
    };
  }

  async function runCase(serverSettings: Buffer, waitForSettings: boolean, maxTableSize: number | undefined): Promise<void> {
    const count = 60;
    const sent: http2.OutgoingHttpHeaders[] = [];
    let authority = '';
    const capture = await captureClientHeaders(serverSettings, (client, cap, port, done) => {
      const start = (): void => {
        authority = `127.0.0.1:${port}`;
        for (let i = 0; i < count; i++) {
          const headers = requestHeaders(i);
          sent.push(headers);
          const req = client.request(headers, { endStream: false });
          req.on('error', () => {});
        }
        const poll = setInterval(() => {
          if (cap.blocks.length >= count) {
            clearInterval(poll);
            done();
          }
        }, 5);
      };
      if (waitForSettings) client.once('remoteSettings', start);
      else client.once('connect', start);
    });
    assert.equal(capture.blocks.length, count);
    const decoder = new HpackDecoder();
    const expectedLists: string[][] = [];
    capture.blocks.forEach((block, i) => {
      if (i === capture.settingsAckAt && maxTableSize !== undefined) decoder.setMaxTableSize(maxTableSize);
      const list = decoder.decode(block, 0, block.length, Infinity);
      assert.ok(list !== null);
      const expected: string[] = [':scheme', 'http', ':authority', authority];
      for (const [k, v] of Object.entries(sent[i]!)) expected.push(k, String(v));
      assert.deepEqual(pairsOf(list), pairsOf(expected), `request ${i}`);
      expectedLists.push(expected);
    });
    // The first block has no dynamic references, so being shorter than the raw
    // (H=0) encoding of the same fields means the client used Huffman coding.
    const first = expectedLists[0]!;
    const rawPairs: Array<[string, string]> = [];
    for (let i = 0; i < first.length; i += 2) rawPairs.push([first[i]!, first[i + 1]!]);
    assert.ok(capture.blocks[0]!.length < encodeHeaderBlock(undefined, rawPairs).length, 'the client used Huffman coding');
    // Later blocks refer to what the first put in the dynamic table (x-constant alone is 60 octets as a literal).
    if (maxTableSize !== undefined) {
      assert.equal(capture.settingsAckAt, 0);
      assert.equal(capture.blocks[0]![0]! & 0xe0, 0x20, 'the first block begins with a dynamic table size update');
      assert.ok(decoder.tableCapacity <= maxTableSize);
      assert.ok(decoder.tableSize <= maxTableSize);
    } else {
      assert.ok(capture.blocks[1]!.length < capture.blocks[0]!.length - 40, 'the client used the dynamic table');
      assert.ok(decoder.tableLength > 0);
    }
  }

  test('decodes 60 requests on one connection with the default 4096-octet table', { timeout: 30_000 }, async () => {
    await runCase(emptySettings, false, undefined);
  });

  test('decodes requests after the server lowers SETTINGS_HEADER_TABLE_SIZE to 256', { timeout: 30_000 }, async () => {
    // SETTINGS with HEADER_TABLE_SIZE (0x1) = 256.
    const settings = Buffer.from([0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0]);
    await runCase(settings, true, 256);
  });
});
