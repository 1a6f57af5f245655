/**
 * The benchmark service, shared by every server and client in bench/.
 * One proto source is parsed at run time with protobufjs; connect-node gets
 * the same schema as a FileDescriptorProto (see servers/connect.ts).
 */
import protobuf from 'protobufjs';

export const PROTO_SOURCE = `
syntax = "proto3";
package bench;

message Payload {
  bytes body = 1;
}

message StreamRequest {
  uint32 count = 1;
  uint32 size = 2;
}

service Bench {
  rpc Unary (Payload) returns (Payload);
  rpc ServerStream (StreamRequest) returns (stream Payload);
  rpc PingPong (stream Payload) returns (stream Payload);
}
`;

export const SERVICE_NAME = 'bench.Bench';
export const PATHS = {
  unary: `/${SERVICE_NAME}/Unary`,
  serverStream: `/${SERVICE_NAME}/ServerStream`,
  pingPong: `/${SERVICE_NAME}/PingPong`,
} as const;

/** Size of the payload carried by unary requests and ping-pong messages. */
export const SMALL_BODY_BYTES = 16;

export interface Payload {
  body: Uint8Array;
}

export interface StreamRequest {
  count: number;
  size: number;
}

export const root: protobuf.Root = protobuf.parse(PROTO_SOURCE, { keepCase: false }).root;
export const PayloadType: protobuf.Type = root.lookupType('bench.Payload');
export const StreamRequestType: protobuf.Type = root.lookupType('bench.StreamRequest');
export const BenchService: protobuf.Service = root.lookupService(SERVICE_NAME);

export function encodePayload(message: Payload): Uint8Array {
  return PayloadType.encode(message).finish();
}

export function decodePayload(bytes: Uint8Array): Payload {
  const decoded = PayloadType.decode(bytes) as unknown as { body?: Uint8Array };
  return { body: decoded.body ?? new Uint8Array(0) };
}

export function encodeStreamRequest(message: StreamRequest): Uint8Array {
  return StreamRequestType.encode(message).finish();
}

export function decodeStreamRequest(bytes: Uint8Array): StreamRequest {
  const decoded = StreamRequestType.decode(bytes) as unknown as { count?: number; size?: number };
  return { count: decoded.count ?? 0, size: decoded.size ?? 0 };
}

/** Wraps one message in the gRPC length-prefixed frame (uncompressed). */
export function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** A deterministic payload of `size` bytes. */
export function bodyOf(size: number): Uint8Array {
  const body = new Uint8Array(size);
  for (let i = 0; i < size; i++) body[i] = (i * 31 + 7) & 0xff;
  return body;
}

/**
 * Counts gRPC messages in a byte stream cut at arbitrary points, without
 * copying: it only follows the 5-byte prefixes. Optionally keeps the last
 * complete message (for checks); counting alone never allocates.
 */
export class FrameCounter {
  count = 0;
  private headerBytes = 0;
  private header = Buffer.alloc(5);
  private remaining = 0;

  push(chunk: Uint8Array): number {
    const before = this.count;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - i);
        this.remaining -= take;
        i += take;
        if (this.remaining === 0) this.count++;
        continue;
      }
      this.header[this.headerBytes++] = chunk[i++]!;
      if (this.headerBytes === 5) {
        this.headerBytes = 0;
        this.remaining = this.header.readUInt32BE(1);
        if (this.remaining === 0) this.count++;
      }
    }
    return this.count - before;
  }
}
