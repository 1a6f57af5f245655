/**
 * A faster way in and out of gRPC frames for methods whose messages are
 * protobufjs types: the response is encoded straight after its 5-byte prefix
 * (one buffer, no copy) and a request message is decoded where it lies in the
 * received frame (no view of the payload). Used only while the definition's
 * serialize and deserialize are the ones the codec was made with, so a
 * definition whose functions were replaced keeps working through them.
 */
import protobuf from 'protobufjs';
import { FRAME_HEADER_LENGTH, writeFrameHeader } from './framing.js';
import type { MethodDefinition } from './types.js';

const FRAMED_CODEC: unique symbol = Symbol('framedCodec');

export interface FramedCodec {
  readonly serialize: (message: never) => Uint8Array;
  readonly deserialize: (bytes: Uint8Array) => unknown;
  /** The message as one uncompressed frame. */
  encodeFrame(message: unknown): Uint8Array;
  /** Decode the message of the uncompressed frame that fills `frame`. */
  decodeFrame(frame: Uint8Array): unknown;
}

type WithCodec = { [FRAMED_CODEC]?: FramedCodec };

/** A writer's buffer grows to its largest message; one that grew past this is not kept. */
const KEEP_WRITER_BYTES = 64 * 1024;

/** The writer encodings reuse (taken while in use, so an encoding started inside another gets its own). */
let spareWriter: protobuf.Writer | undefined;

/**
 * Encode `message` (a message of `type`, or what `type.encode` accepts) into a
 * buffer of exactly its size, optionally after a 5-byte frame prefix whose
 * length is filled in. One writer is reused across calls instead of a new
 * writer and its scratch buffer per message.
 */
export function encodeMessage(type: protobuf.Type, message: protobuf.Message, framed: boolean): Uint8Array {
  const writer = spareWriter ?? protobuf.Writer.create();
  spareWriter = undefined;
  writer.reset();
  // Placeholders for the flag byte and the 4-byte length (a varint 0 is one byte).
  if (framed) writer.bool(false).fixed32(0);
  // A writer left by a failed encoding is dropped (its fork states may be set).
  const out = type.encode(message, writer).finish();
  if (writer.buf.byteLength <= KEEP_WRITER_BYTES) spareWriter = writer;
  if (framed) writeFrameHeader(out, 0, out.byteLength - FRAME_HEADER_LENGTH, false);
  return out;
}

/** Attach to `def` a codec made from the protobufjs types its own serialize and deserialize use. */
export function attachFramedCodec<T extends MethodDefinition>(
  def: T,
  requestType: protobuf.Type,
  responseType: protobuf.Type,
  toMessage: (message: unknown) => protobuf.Message,
): T {
  const codec: FramedCodec = {
    serialize: def.serialize as (message: never) => Uint8Array,
    deserialize: def.deserialize,
    encodeFrame(message: unknown): Uint8Array {
      return encodeMessage(responseType, toMessage(message), true);
    },
    decodeFrame(frame: Uint8Array): unknown {
      const reader = protobuf.Reader.create(frame);
      reader.pos = FRAME_HEADER_LENGTH;
      return requestType.decode(reader);
    },
  };
  Object.defineProperty(def, FRAMED_CODEC, { value: codec });
  return def;
}

/** The codec of `def`, while its serialize and deserialize are still the ones the codec matches. */
export function framedCodecOf(def: MethodDefinition): FramedCodec | undefined {
  const codec = (def as WithCodec)[FRAMED_CODEC];
  return codec !== undefined && codec.serialize === def.serialize && codec.deserialize === def.deserialize ? codec : undefined;
}
