// The HPACK Huffman code (RFC 7541 Appendix B).
//
// The code is canonical: codes of one length are consecutive and ordered by
// symbol, and each length's first code follows the previous length's last.
// So the bit length of every symbol is the whole table; the codes are derived
// from it at module load.
//
// Decoding runs a 4-bit state machine: a state is an inner node of the code
// tree, and one table lookup per half byte gives the next node, the symbol
// finished on the way (at most one: the shortest code has 5 bits) and whether
// the EOS symbol was reached.

/** Code length in bits of symbols 0..255, then EOS (256). */
const CODE_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;

/** Code length of each symbol (0..256). */
export const HUFFMAN_LENGTHS: Uint8Array = Uint8Array.from(CODE_LENGTHS);
/** Code of each symbol (0..256), right-aligned in `HUFFMAN_LENGTHS[sym]` bits. */
export const HUFFMAN_CODES: Uint32Array = deriveCodes(HUFFMAN_LENGTHS);

function deriveCodes(lengths: Uint8Array): Uint32Array {
  const order = Array.from({ length: lengths.length }, (_, i) => i);
  order.sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const codes = new Uint32Array(lengths.length);
  let code = 0;
  let prevLength = lengths[order[0]!]!;
  for (let k = 0; k < order.length; k++) {
    const sym = order[k]!;
    const len = lengths[sym]!;
    if (k > 0) code = (code + 1) * 2 ** (len - prevLength);
    codes[sym] = code;
    prevLength = len;
  }
  return codes;
}

// ---- decoding tables ------------------------------------------------------

const FLAG_EMIT = 0x10000;
const FLAG_FAIL = 0x20000;

/** transitions[(state << 4) | nibble] = next | symbol << 8 | FLAG_EMIT? | FLAG_FAIL? */
const TRANSITIONS = new Int32Array(256 * 16);
/** 1 where a string may end in this state: the bits since the last symbol are at most 7 ones. */
const ACCEPTING = new Uint8Array(256);

function buildDecoder(): void {
  // Tree of inner nodes; a child is an inner node id (>= 0) or ~symbol (< 0).
  const left: number[] = [0];
  const right: number[] = [0];
  const UNSET = 0x7fffffff;
  left[0] = UNSET;
  right[0] = UNSET;
  for (let sym = 0; sym <= EOS; sym++) {
    const len = HUFFMAN_LENGTHS[sym]!;
    const code = HUFFMAN_CODES[sym]!;
    let node = 0;
    for (let bit = len - 1; bit >= 0; bit--) {
      const one = Math.floor(code / 2 ** bit) % 2 === 1;
      const side = one ? right : left;
      if (bit === 0) {
        side[node] = ~sym;
      } else {
        if (side[node] === UNSET) {
          side[node] = left.length;
          left.push(UNSET);
          right.push(UNSET);
        }
        node = side[node]!;
      }
    }
  }
  if (left.length !== 256) throw new Error('HPACK Huffman table is not a full code');

  // Accepting states: the root, and the nodes reached by 1..7 one bits from it.
  let node = 0;
  ACCEPTING[0] = 1;
  for (let depth = 1; depth <= 7; depth++) {
    node = right[node]!;
    ACCEPTING[node] = 1;
  }

  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let cur = state;
      let out = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const child = (nibble >> bit) & 1 ? right[cur]! : left[cur]!;
        if (child >= 0) {
          cur = child;
          continue;
        }
        const sym = ~child;
        if (sym === EOS) {
          out |= FLAG_FAIL;
          break;
        }
        out |= FLAG_EMIT | (sym << 8);
        cur = 0;
      }
      TRANSITIONS[(state << 4) | nibble] = out | (out & FLAG_FAIL ? 0 : cur);
    }
  }
}
buildDecoder();

let scratch: Buffer = Buffer.allocUnsafe(4096);

interface Latin1Slicer {
  latin1Slice(start: number, end: number): string;
}
const latin1Slice = (Buffer.prototype as unknown as Latin1Slicer).latin1Slice;

/**
 * Decodes the Huffman-coded octets [start, end) of `src` into a latin1 string,
 * or returns null when they are not a valid encoding (EOS inside, padding longer
 * than 7 bits or not all ones).
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number): string | null {
  // The shortest code has 5 bits, so n octets hold at most 8n/5 symbols.
  const most = ((end - start) * 8) / 5 + 1;
  if (most > scratch.length) scratch = Buffer.allocUnsafe(Math.max(most | 0, scratch.length * 2));
  const out = scratch;
  const table = TRANSITIONS;
  let n = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const b = src[i]!;
    let t = table[(state << 4) | (b >> 4)]!;
    if (t & FLAG_EMIT) out[n++] = t >> 8;
    else if (t & FLAG_FAIL) return null;
    t = table[((t & 0xff) << 4) | (b & 0xf)]!;
    if (t & FLAG_EMIT) out[n++] = t >> 8;
    else if (t & FLAG_FAIL) return null;
    state = t & 0xff;
  }
  if (ACCEPTING[state] === 0) return null;
  return latin1Slice.call(out, 0, n);
}

/** Octets the Huffman encoding of the latin1 string `s` takes. */
export function huffmanEncodedLength(s: string): number {
  const lengths = HUFFMAN_LENGTHS;
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += lengths[s.charCodeAt(i) & 0xff]!;
  return (bits + 7) >> 3;
}

/**
 * Writes the Huffman encoding of the latin1 string `s` at `offset` of `out`
 * (which must have room for `huffmanEncodedLength(s)` octets) and returns the
 * offset after it. The last octet is padded with the high bits of EOS (ones).
 */
export function huffmanEncode(s: string, out: Uint8Array, offset: number): number {
  const lengths = HUFFMAN_LENGTHS;
  const codes = HUFFMAN_CODES;
  let acc = 0; // pending bits, right-aligned; fewer than 8 between symbols
  let bits = 0;
  let o = offset;
  for (let i = 0; i < s.length; i++) {
    const sym = s.charCodeAt(i) & 0xff;
    let len = lengths[sym]!;
    const code = codes[sym]!;
    if (len > 16) {
      // Split long codes so the accumulator stays within 31 bits.
      const high = len - 16;
      acc = (acc << high) | (code >>> 16);
      bits += high;
      while (bits >= 8) {
        bits -= 8;
        out[o++] = acc >> bits;
      }
      acc &= (1 << bits) - 1;
      len = 16;
    }
    acc = (acc << len) | (code & 0xffff);
    bits += len;
    while (bits >= 8) {
      bits -= 8;
      out[o++] = acc >> bits;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out[o++] = (acc << (8 - bits)) | (0xff >> bits);
  return o;
}
