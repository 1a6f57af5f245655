// HPACK (RFC 7541): a decoder with a dynamic table, and a stateless encoder
// that only uses the static table.
//
// Decoded strings are latin1 (one char per octet). Dynamic table entries keep
// their name and value as strings, so an indexed field hands back the strings
// the table already holds without allocating.

import { huffmanDecode } from './huffman.js';
import { STATIC_BY_NAME, STATIC_NAMES, STATIC_TABLE_LENGTH, STATIC_VALUES } from './static-table.js';

/** A header block that cannot be decoded: the connection must end with COMPRESSION_ERROR. */
export class HpackError extends Error {
  override name = 'HpackError';
}

export interface HpackDecoderOptions {
  /** SETTINGS_HEADER_TABLE_SIZE this side advertised (default 4096): the most a dynamic table size update may ask for. */
  readonly maxTableSize?: number;
}

/** Octets a dynamic table entry costs beyond its name and value (RFC 7541 4.1). */
export const ENTRY_OVERHEAD = 32;
/** Largest integer a header block may carry. */
const MAX_INTEGER = 0x7fffffff;

interface Latin1Slicer {
  latin1Slice(start: number, end: number): string;
}
const latin1Slice = (Buffer.prototype as unknown as Latin1Slicer).latin1Slice;

/** Slots of the decoder's cache of repeated literal values, and the longest encoding it keeps. */
const CACHE_SLOTS = 16;
const CACHE_SLOT_OCTETS = 64;

/** The string a literal's octets [a, b) stand for; `huffman` is the H bit (0x80) or 0. */
function makeString(block: Uint8Array, a: number, b: number, huffman: number): string {
  if (huffman === 0) return latin1Slice.call(block, a, b);
  const s = huffmanDecode(block, a, b);
  if (s === null) throw new HpackError('invalid Huffman-coded string');
  return s;
}

/** A packed array of `n` empty strings (faster to index than a holey one). */
function emptyStrings(n: number): string[] {
  const a: string[] = [];
  for (let i = 0; i < n; i++) a.push('');
  return a;
}

export class HpackDecoder {
  /** Ring of entries; the newest is at (head - 1) & mask. */
  private names: string[] = emptyStrings(16);
  private values: string[] = emptyStrings(16);
  private mask = 15;
  private head = 0;
  private count = 0;
  /** Octets the entries take (RFC 7541 4.1). */
  private size = 0;
  /** Current dynamic table size (set by size updates). */
  private capacity: number;
  /** The most a size update may set. */
  private limit: number;
  /** The limit was lowered below the capacity: the next block must start with a size update. */
  private updateRequired = false;
  /** Read position while decoding. */
  private p = 0;
  /** The H bit (0x80 or 0) of the string literal skipString last stepped over. */
  private huffman = 0;
  /** Recently decoded literal values (see readRepeatedValue): encoded octets, length | H << 8, string. */
  private readonly cacheBytes = new Uint8Array(CACHE_SLOTS * CACHE_SLOT_OCTETS);
  private readonly cacheTags = new Int32Array(CACHE_SLOTS);
  private readonly cacheStrings: string[] = emptyStrings(CACHE_SLOTS);

  constructor(options?: HpackDecoderOptions) {
    const max = options?.maxTableSize ?? 4096;
    if (!Number.isInteger(max) || max < 0 || max > MAX_INTEGER) {
      throw new RangeError(`maxTableSize must be an integer in [0, ${MAX_INTEGER}], got ${max}`);
    }
    this.capacity = max;
    this.limit = max;
  }

  /** Octets the dynamic table holds now (entry sizes per RFC 7541 4.1). */
  get tableSize(): number {
    return this.size;
  }

  /** The dynamic table's current maximum size (as last set by a size update). */
  get tableCapacity(): number {
    return this.capacity;
  }

  /** Number of entries in the dynamic table. */
  get tableLength(): number {
    return this.count;
  }

  /** Dynamic table entry `i` (1 = newest), as [name, value], or undefined past the end. */
  tableEntry(i: number): [string, string] | undefined {
    if (!(i >= 1 && i <= this.count)) return undefined;
    const at = (this.head - i) & this.mask;
    return [this.names[at]!, this.values[at]!];
  }

  /**
   * Changes the most a dynamic table size update may ask for, once the peer has
   * acknowledged a new SETTINGS_HEADER_TABLE_SIZE. When it is below the table's
   * current size limit, the peer's next header block must begin with a size update.
   */
  setMaxTableSize(max: number): void {
    if (!Number.isInteger(max) || max < 0 || max > MAX_INTEGER) {
      throw new RangeError(`maxTableSize must be an integer in [0, ${MAX_INTEGER}], got ${max}`);
    }
    this.limit = max;
    if (max < this.capacity) this.updateRequired = true;
  }

  /**
   * Decode one complete header block (bytes [start, end) of `block`) into a flat
   * [name, value, name, value, ...] list of latin1 strings, in order.
   * If the header list size (sum of name.length + value.length + 32 per field, RFC 9113 6.5.2)
   * exceeds `maxListSize`, keep decoding (the dynamic table must stay in sync) but
   * return null instead of the list.
   * Throws HpackError for anything invalid.
   */
  decode(block: Uint8Array, start: number, end: number, maxListSize: number): string[] | null {
    if (!(start >= 0 && end <= block.length && start <= end)) {
      throw new RangeError(`bad range [${start}, ${end}) of a ${block.length}-octet block`);
    }
    let out: string[] | null = [];
    let listSize = 0;
    let first = true; // no field yet: size updates allowed
    this.p = start;
    if (this.updateRequired && (start === end || (block[start]! & 0xe0) !== 0x20)) {
      throw new HpackError('header block must begin with a dynamic table size update after SETTINGS_HEADER_TABLE_SIZE was lowered');
    }
    while (this.p < end) {
      const b = block[this.p]!;
      let name: string;
      let value: string;
      if (b & 0x80) {
        // Indexed header field (6.1).
        let index = b & 0x7f;
        if (index < 0x7f) this.p++;
        else index = this.readInteger(block, end, 0x7f);
        if (index === 0) throw new HpackError('indexed header field with index 0');
        if (index <= STATIC_TABLE_LENGTH) {
          name = STATIC_NAMES[index]!;
          value = STATIC_VALUES[index]!;
        } else {
          const d = index - STATIC_TABLE_LENGTH;
          if (d > this.count) throw new HpackError(`header field index ${index} is past the end of the table (${STATIC_TABLE_LENGTH + this.count} entries)`);
          const at = (this.head - d) & this.mask;
          name = this.names[at]!;
          value = this.values[at]!;
        }
      } else if (b & 0x40) {
        // Literal with incremental indexing (6.2.1).
        name = this.readName(block, end, 0x3f);
        value = this.readString(block, end);
        this.insert(name, value);
      } else if (b & 0x20) {
        // Dynamic table size update (6.3).
        if (!first) throw new HpackError('dynamic table size update after the first header field of a block');
        const size = this.readInteger(block, end, 0x1f);
        if (size > this.limit) throw new HpackError(`dynamic table size update to ${size} exceeds the advertised ${this.limit}`);
        this.capacity = size;
        this.updateRequired = false;
        this.evictTo(size);
        continue;
      } else {
        // Literal without indexing (6.2.2) or never indexed (6.2.3).
        name = this.readName(block, end, 0x0f);
        value = this.readRepeatedValue(block, end);
      }
      first = false;
      if (out !== null) {
        listSize += name.length + value.length + ENTRY_OVERHEAD;
        if (listSize > maxListSize) out = null;
        else out.push(name, value);
      }
    }
    return out;
  }

  /** Reads a prefixed integer (5.1) whose first octet is at this.p. */
  private readInteger(block: Uint8Array, end: number, prefixMask: number): number {
    let p = this.p;
    let value = block[p++]! & prefixMask;
    if (value < prefixMask) {
      this.p = p;
      return value;
    }
    let shift = 0;
    for (;;) {
      if (p >= end) throw new HpackError('truncated integer');
      const b = block[p++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (value > MAX_INTEGER) throw new HpackError('integer exceeds 2^31 - 1');
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) throw new HpackError('integer has too many continuation octets');
    }
    this.p = p;
    return value;
  }

  /** Reads the name of a literal field: an index in the first octet's prefix, or a string after it. */
  private readName(block: Uint8Array, end: number, prefixMask: number): string {
    const index = this.readInteger(block, end, prefixMask);
    if (index === 0) return this.readString(block, end);
    if (index <= STATIC_TABLE_LENGTH) return STATIC_NAMES[index]!;
    const d = index - STATIC_TABLE_LENGTH;
    if (d > this.count) throw new HpackError(`header name index ${index} is past the end of the table (${STATIC_TABLE_LENGTH + this.count} entries)`);
    return this.names[(this.head - d) & this.mask]!;
  }

  /**
   * Steps over a string literal (5.2): its length prefix and its octets. Returns
   * where the octets start; they end at this.p, Huffman-coded when this.huffman is 0x80.
   */
  private skipString(block: Uint8Array, end: number): number {
    if (this.p >= end) throw new HpackError('truncated string: missing length');
    this.huffman = block[this.p]! & 0x80;
    const length = this.readInteger(block, end, 0x7f);
    const a = this.p;
    const b = a + length;
    if (b > end) throw new HpackError(`truncated string: ${length} octets announced, ${end - a} left`);
    this.p = b;
    return a;
  }

  /** Reads a string literal (5.2). */
  private readString(block: Uint8Array, end: number): string {
    const a = this.skipString(block, end);
    return a === this.p ? '' : makeString(block, a, this.p, this.huffman);
  }

  /**
   * Reads the value of a field that was not added to the table. Encoders send
   * such fields as literals on every request even when they repeat (nghttp2
   * does so for `:path`), so recently seen encodings are kept with their
   * decoded strings: a repeat costs a comparison instead of a new string.
   */
  private readRepeatedValue(block: Uint8Array, end: number): string {
    const a = this.skipString(block, end);
    const b = this.p;
    const length = b - a;
    const huffman = this.huffman;
    if (length === 0) return '';
    if (length > CACHE_SLOT_OCTETS) return makeString(block, a, b, huffman);
    const tag = length | (huffman << 8);
    const slot = (length * 31 + block[a]! * 7 + block[b - 1]! + block[(a + b) >> 1]! * 3) & (CACHE_SLOTS - 1);
    const bytes = this.cacheBytes;
    const base = slot * CACHE_SLOT_OCTETS;
    if (this.cacheTags[slot] === tag) {
      let i = 0;
      while (i < length && bytes[base + i] === block[a + i]) i++;
      if (i === length) return this.cacheStrings[slot]!;
    }
    const s = makeString(block, a, b, huffman);
    this.cacheTags[slot] = tag;
    for (let i = 0; i < length; i++) bytes[base + i] = block[a + i]!;
    this.cacheStrings[slot] = s;
    return s;
  }

  private insert(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > this.capacity) {
      // An entry larger than the table empties it and is not added (4.4).
      this.evictTo(0);
      return;
    }
    this.evictTo(this.capacity - entrySize);
    if (this.count > this.mask) this.grow();
    const at = this.head;
    this.names[at] = name;
    this.values[at] = value;
    this.head = (at + 1) & this.mask;
    this.count++;
    this.size += entrySize;
  }

  /** Evicts the oldest entries until the table takes at most `size` octets. */
  private evictTo(size: number): void {
    while (this.size > size) {
      const at = (this.head - this.count) & this.mask;
      this.size -= this.names[at]!.length + this.values[at]!.length + ENTRY_OVERHEAD;
      this.names[at] = '';
      this.values[at] = '';
      this.count--;
    }
  }

  private grow(): void {
    const cap = (this.mask + 1) * 2;
    const names = emptyStrings(cap);
    const values = emptyStrings(cap);
    for (let i = this.count; i >= 1; i--) {
      const from = (this.head - i) & this.mask;
      names[this.count - i] = this.names[from]!;
      values[this.count - i] = this.values[from]!;
    }
    this.names = names;
    this.values = values;
    this.mask = cap - 1;
    this.head = this.count;
  }
}

// ---- encoder ----------------------------------------------------------------

/** Fields whose values must never enter an intermediary's table (RFC 7541 7.1.3). */
const NEVER_INDEXED = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

interface EncoderNameEntry {
  readonly nameIndex: number;
  readonly byValue: ReadonlyMap<string, number>;
  readonly neverIndexed: boolean;
}

const ENCODER_NAMES: ReadonlyMap<string, EncoderNameEntry> = new Map(
  [...STATIC_BY_NAME].map(([name, e]) => [name, { nameIndex: e.nameIndex, byValue: e.byValue, neverIndexed: NEVER_INDEXED.has(name) }]),
);

/** How each field of the block being encoded is written (see `plan`). */
let plan = new Int32Array(64);
const PLAN_FULL = 0x10000; // fully indexed static entry (low bits: index)
const PLAN_NEVER = 0x20000; // never indexed literal (low bits: name index or 0)
// otherwise: literal without indexing, low bits: name index or 0 for a new name

const STATUS_INDEX: Record<number, number> = { 200: 8, 204: 9, 206: 10, 304: 11, 400: 12, 404: 13, 500: 14 };

interface Latin1Writer {
  latin1Write(s: string, offset: number, length: number): number;
}
const latin1Write = (Buffer.prototype as unknown as Latin1Writer).latin1Write;

/** Octets of an integer with an N-bit prefix whose prefix mask is `mask`. */
function integerLength(value: number, mask: number): number {
  if (value < mask) return 1;
  value -= mask;
  let n = 2;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

function writeInteger(out: Buffer, o: number, value: number, mask: number, flags: number): number {
  if (value < mask) {
    out[o++] = flags | value;
    return o;
  }
  out[o++] = flags | mask;
  value -= mask;
  while (value >= 0x80) {
    out[o++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[o++] = value;
  return o;
}

/** Writes a raw (H=0) string literal. */
function writeString(out: Buffer, o: number, s: string): number {
  const n = s.length;
  o = writeInteger(out, o, n, 0x7f, 0);
  if (n < 24) {
    for (let i = 0; i < n; i++) out[o + i] = s.charCodeAt(i);
  } else {
    latin1Write.call(out, s, o, n);
  }
  return o + n;
}

/**
 * Encodes a response or trailer header block using the static table only:
 * `:status` first when given, then `headers` in order. Names are written as
 * given (lower-case them first); values are written as latin1 octets.
 * `headroom` octets are left unwritten before the block (room for a frame
 * header, so HEADERS can go out as one buffer); the block starts at that offset.
 */
export function encodeHeaderBlock(status: number | undefined, headers: ReadonlyArray<readonly [string, string]>, headroom = 0): Buffer {
  const count = headers.length;
  if (plan.length < count) plan = new Int32Array(Math.max(count, plan.length * 2));
  let size = headroom;
  let statusIndex = 0;
  let statusText = '';
  if (status !== undefined) {
    statusIndex = STATUS_INDEX[status] ?? 0;
    if (statusIndex !== 0) size += 1;
    else {
      statusText = String(status);
      size += 1 + integerLength(statusText.length, 0x7f) + statusText.length;
    }
  }
  for (let i = 0; i < count; i++) {
    const field = headers[i]!;
    const name = field[0];
    const value = field[1];
    const entry = ENCODER_NAMES.get(name);
    let kind: number;
    if (entry === undefined) {
      kind = 0;
      size += 1 + integerLength(name.length, 0x7f) + name.length;
    } else if (entry.neverIndexed) {
      kind = PLAN_NEVER | entry.nameIndex;
      size += integerLength(entry.nameIndex, 0x0f);
    } else {
      const full = entry.byValue.get(value);
      if (full !== undefined) {
        plan[i] = PLAN_FULL | full;
        size += 1;
        continue;
      }
      kind = entry.nameIndex;
      size += integerLength(entry.nameIndex, 0x0f);
    }
    plan[i] = kind;
    size += integerLength(value.length, 0x7f) + value.length;
  }

  const out = Buffer.allocUnsafe(size);
  let o = headroom;
  if (status !== undefined) {
    if (statusIndex !== 0) out[o++] = 0x80 | statusIndex;
    else {
      out[o++] = 0x08; // literal without indexing, name :status (index 8)
      o = writeString(out, o, statusText);
    }
  }
  for (let i = 0; i < count; i++) {
    const kind = plan[i]!;
    const field = headers[i]!;
    if (kind & PLAN_FULL) {
      out[o++] = 0x80 | (kind & 0xffff);
      continue;
    }
    const nameIndex = kind & 0xffff;
    const flags = kind & PLAN_NEVER ? 0x10 : 0x00;
    if (nameIndex === 0) {
      out[o++] = flags;
      o = writeString(out, o, field[0]);
    } else {
      o = writeInteger(out, o, nameIndex, 0x0f, flags);
    }
    o = writeString(out, o, field[1]);
  }
  return out;
}
