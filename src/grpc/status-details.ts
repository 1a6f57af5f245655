/**
 * google.rpc.Status, the payload of grpc-status-details-bin, encoded and
 * decoded by hand (three fields) so rich errors need no generated code:
 *   int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3;
 *   Any: string type_url = 1; bytes value = 2;
 */
export interface AnyMessage {
  /** e.g. "type.googleapis.com/google.rpc.BadRequest" */
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

export interface RpcStatus {
  readonly code: number;
  readonly message: string;
  readonly details: readonly AnyMessage[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

class ProtoWriter {
  readonly parts: number[] = [];
  varint(v: number): void {
    let n = BigInt.asUintN(64, BigInt(Math.trunc(v)));
    while (n > 0x7fn) {
      this.parts.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    this.parts.push(Number(n));
  }
  bytes(field: number, value: Uint8Array): void {
    this.varint((field << 3) | 2);
    this.varint(value.byteLength);
    for (const b of value) this.parts.push(b);
  }
}

/** Serialize a google.rpc.Status for `new GrpcError(code, message, { details })`. */
export function encodeStatusDetails(status: RpcStatus): Uint8Array {
  const w = new ProtoWriter();
  if (status.code) {
    w.varint(1 << 3);
    w.varint(status.code);
  }
  if (status.message) w.bytes(2, encoder.encode(status.message));
  for (const d of status.details) {
    const any = new ProtoWriter();
    if (d.typeUrl) any.bytes(1, encoder.encode(d.typeUrl));
    if (d.value.byteLength) any.bytes(2, d.value);
    w.bytes(3, Uint8Array.from(any.parts));
  }
  return Uint8Array.from(w.parts);
}

class ProtoReader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.buf.byteLength;
  }
  varint(): number {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.byteLength || shift > 63n) throw new RangeError('truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7n;
    }
    return Number(BigInt.asIntN(32, result));
  }
  bytes(): Uint8Array {
    const len = this.varint();
    if (len < 0 || this.pos + len > this.buf.byteLength) throw new RangeError('truncated field');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 2) this.bytes();
    else if (wire === 1) this.pos += 8;
    else if (wire === 5) this.pos += 4;
    else throw new RangeError(`unsupported wire type ${wire}`);
    if (this.pos > this.buf.byteLength) throw new RangeError('truncated field');
  }
}

/** Parse grpc-status-details-bin bytes; undefined when they are not a google.rpc.Status. */
export function decodeStatusDetails(bytes: Uint8Array): RpcStatus | undefined {
  try {
    const r = new ProtoReader(bytes);
    let code = 0;
    let message = '';
    const details: AnyMessage[] = [];
    while (!r.done) {
      const tag = r.varint();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1 && wire === 0) code = r.varint();
      else if (field === 2 && wire === 2) message = decoder.decode(r.bytes());
      else if (field === 3 && wire === 2) {
        const a = new ProtoReader(r.bytes());
        let typeUrl = '';
        let value: Uint8Array = new Uint8Array(0);
        while (!a.done) {
          const t = a.varint();
          if (t >>> 3 === 1 && (t & 7) === 2) typeUrl = decoder.decode(a.bytes());
          else if (t >>> 3 === 2 && (t & 7) === 2) value = Uint8Array.from(a.bytes());
          else a.skip(t & 7);
        }
        details.push({ typeUrl, value });
      } else r.skip(wire);
    }
    return { code, message, details };
  } catch {
    return undefined;
  }
}
