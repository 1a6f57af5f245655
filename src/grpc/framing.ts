/**
 * gRPC length-prefixed messages: 1 flag byte (bit 0 = compressed), a 4-byte
 * big-endian length, then the payload. Frame boundaries have nothing to do with
 * the chunks the transport delivers.
 */
import { GrpcError } from './error.js';
import { Status } from './status.js';

export const FRAME_HEADER_LENGTH = 5;

export interface Frame {
  readonly compressed: boolean;
  readonly payload: Uint8Array;
}

/** Frame one message. */
export function encodeFrame(payload: Uint8Array, compressed = false): Uint8Array {
  const out = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + payload.byteLength);
  writeFrameHeader(out, 0, payload.byteLength, compressed);
  out.set(payload, FRAME_HEADER_LENGTH);
  return out;
}

export function writeFrameHeader(target: Uint8Array, offset: number, length: number, compressed: boolean): void {
  target[offset] = compressed ? 1 : 0;
  target[offset + 1] = length >>> 24;
  target[offset + 2] = (length >>> 16) & 0xff;
  target[offset + 3] = (length >>> 8) & 0xff;
  target[offset + 4] = length & 0xff;
}

/**
 * True when `chunk` is exactly one whole, valid frame no longer than
 * `maxLength` (what a unary request body usually is); otherwise a FrameDecoder
 * reads the chunk (and reports what is wrong with it).
 */
export function isWholeFrame(chunk: Uint8Array, maxLength: number): boolean {
  const n = chunk.byteLength;
  if (n < FRAME_HEADER_LENGTH || chunk[0]! > 1) return false;
  const length = ((chunk[1]! << 24) | (chunk[2]! << 16) | (chunk[3]! << 8) | chunk[4]!) >>> 0;
  return length === n - FRAME_HEADER_LENGTH && length <= maxLength;
}

/**
 * Append the frames of `chunk` to `out` when the chunk is a run of whole,
 * valid frames no longer than `maxLength` each, and return true; otherwise
 * leave `out` as it was and return false (a FrameDecoder then reads the chunk,
 * and reports what is wrong with it). Payloads are views into the chunk.
 */
export function splitWholeFrames(chunk: Uint8Array, maxLength: number, out: Frame[]): boolean {
  const n = chunk.byteLength;
  // Validate first, so nothing is appended for a chunk the decoder must read.
  let pos = 0;
  while (pos < n) {
    if (n - pos < FRAME_HEADER_LENGTH || chunk[pos]! > 1) return false;
    const length = ((chunk[pos + 1]! << 24) | (chunk[pos + 2]! << 16) | (chunk[pos + 3]! << 8) | chunk[pos + 4]!) >>> 0;
    if (length > maxLength || length > n - pos - FRAME_HEADER_LENGTH) return false;
    pos += FRAME_HEADER_LENGTH + length;
  }
  for (pos = 0; pos < n; ) {
    const length = ((chunk[pos + 1]! << 24) | (chunk[pos + 2]! << 16) | (chunk[pos + 3]! << 8) | chunk[pos + 4]!) >>> 0;
    const start = pos + FRAME_HEADER_LENGTH;
    out.push({ compressed: chunk[pos] === 1, payload: chunk.subarray(start, start + length) });
    pos = start + length;
  }
  return true;
}

/**
 * Incremental frame decoder. Feed chunks of any size with `push`; each whole
 * frame goes to `onFrame`. A payload that lies inside one chunk is handed over
 * without copying. Errors are GrpcErrors carrying the status the call ends with.
 */
export class FrameDecoder {
  readonly #maxLength: number;
  readonly #onFrame: (frame: Frame) => void;
  #header: Uint8Array | undefined;
  #headerFill = 0;
  #payload: Uint8Array | undefined;
  #payloadFill = 0;
  #compressed = false;

  constructor(maxLength: number, onFrame: (frame: Frame) => void) {
    this.#maxLength = maxLength;
    this.#onFrame = onFrame;
  }

  /** True when no frame is partly received. */
  get idle(): boolean {
    return this.#headerFill === 0 && this.#payload === undefined;
  }

  push(chunk: Uint8Array): void {
    let pos = 0;
    const n = chunk.byteLength;
    while (pos < n) {
      if (this.#payload !== undefined) {
        const want = this.#payload.byteLength - this.#payloadFill;
        const take = Math.min(want, n - pos);
        this.#payload.set(chunk.subarray(pos, pos + take), this.#payloadFill);
        this.#payloadFill += take;
        pos += take;
        if (this.#payloadFill === this.#payload.byteLength) {
          const payload = this.#payload;
          this.#payload = undefined;
          this.#payloadFill = 0;
          this.#onFrame({ compressed: this.#compressed, payload });
        }
        continue;
      }
      let length: number;
      if (this.#headerFill === 0 && n - pos >= FRAME_HEADER_LENGTH) {
        // Fast path: the whole header is in this chunk.
        this.#compressed = this.#flag(chunk[pos]!);
        length = ((chunk[pos + 1]! << 24) | (chunk[pos + 2]! << 16) | (chunk[pos + 3]! << 8) | chunk[pos + 4]!) >>> 0;
        pos += FRAME_HEADER_LENGTH;
      } else {
        const take = Math.min(FRAME_HEADER_LENGTH - this.#headerFill, n - pos);
        this.#header ??= new Uint8Array(FRAME_HEADER_LENGTH);
        this.#header.set(chunk.subarray(pos, pos + take), this.#headerFill);
        this.#headerFill += take;
        pos += take;
        if (this.#headerFill < FRAME_HEADER_LENGTH) return;
        this.#headerFill = 0;
        const h = this.#header;
        this.#compressed = this.#flag(h[0]!);
        length = ((h[1]! << 24) | (h[2]! << 16) | (h[3]! << 8) | h[4]!) >>> 0;
      }
      if (length > this.#maxLength) {
        throw new GrpcError(
          Status.RESOURCE_EXHAUSTED,
          `received message larger than max (${length} vs. ${this.#maxLength})`,
        );
      }
      if (n - pos >= length) {
        const payload = chunk.subarray(pos, pos + length);
        pos += length;
        this.#onFrame({ compressed: this.#compressed, payload });
      } else {
        this.#payload = new Uint8Array(length);
        this.#payloadFill = 0;
      }
    }
  }

  /** The body ended: a partly received frame is an error. */
  end(): void {
    if (!this.idle) {
      throw new GrpcError(Status.INTERNAL, 'request body ended in the middle of a message');
    }
  }

  #flag(b: number): boolean {
    if (b === 0) return false;
    if (b === 1) return true;
    throw new GrpcError(Status.INTERNAL, `invalid message flag 0x${b.toString(16).padStart(2, '0')}`);
  }
}

/**
 * Yield the frames of a body, whatever its chunking. A body that ends inside a
 * frame, a bad flag byte or an over-long length throws a GrpcError.
 */
export async function* readFrames(body: AsyncIterable<Uint8Array>, maxLength: number): AsyncGenerator<Frame, void, undefined> {
  const ready: Frame[] = [];
  const decoder = new FrameDecoder(maxLength, (f) => ready.push(f));
  for await (const chunk of body) {
    decoder.push(chunk);
    for (let i = 0; i < ready.length; i++) yield ready[i]!;
    ready.length = 0;
  }
  decoder.end();
}
