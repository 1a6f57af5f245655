/**
 * Message compression: gzip and deflate (zlib format), as named in
 * grpc-encoding / grpc-accept-encoding. Decompression stops at a size limit, so
 * a small compressed message cannot expand into an unbounded buffer.
 */
import * as zlib from 'node:zlib';
import { GrpcError } from './error.js';
import { Status } from './status.js';

export type Encoding = 'identity' | 'gzip' | 'deflate';

export const ENCODINGS: readonly Encoding[] = ['identity', 'gzip', 'deflate'];

export function isEncoding(name: string): name is Encoding {
  return name === 'identity' || name === 'gzip' || name === 'deflate';
}

/** The names in a grpc-accept-encoding value, trimmed and lower-cased. */
export function parseEncodingList(value: string | undefined): string[] {
  if (!value) return [];
  const out: string[] = [];
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (name) out.push(name);
  }
  return out;
}

/** Inputs below this size are (de)compressed synchronously: cheaper than a thread-pool round trip. */
const SYNC_LIMIT = 16 * 1024;

type Callback = (error: Error | null, result: Buffer) => void;

function run(
  sync: (buf: zlib.InputType, opts: zlib.ZlibOptions) => Buffer,
  async: (buf: zlib.InputType, opts: zlib.ZlibOptions, cb: Callback) => void,
  data: Uint8Array,
  opts: zlib.ZlibOptions,
): Promise<Buffer> | Buffer {
  if (data.byteLength < SYNC_LIMIT) return sync(data, opts);
  return new Promise((resolve, reject) => async(data, opts, (e, r) => (e ? reject(e) : resolve(r))));
}

export function compress(encoding: Encoding, data: Uint8Array): Promise<Uint8Array> | Uint8Array {
  switch (encoding) {
    case 'identity':
      return data;
    case 'gzip':
      return run(zlib.gzipSync, zlib.gzip, data, {});
    case 'deflate':
      return run(zlib.deflateSync, zlib.deflate, data, {});
  }
}

function decompressError(error: unknown, encoding: string, maxLength: number): GrpcError {
  if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
    return new GrpcError(Status.RESOURCE_EXHAUSTED, `decompressed message larger than max (${maxLength} bytes)`);
  }
  return new GrpcError(Status.INTERNAL, `failed to decompress a ${encoding} message`);
}

/**
 * Decompress one message, refusing output beyond `maxLength` bytes
 * (RESOURCE_EXHAUSTED); corrupt input gives INTERNAL.
 */
export function decompress(encoding: Encoding, data: Uint8Array, maxLength: number): Promise<Uint8Array> | Uint8Array {
  if (encoding === 'identity') return data;
  const opts: zlib.ZlibOptions = { maxOutputLength: Math.max(1, Math.min(maxLength, 2 ** 31 - 1)) };
  const check = (out: Buffer): Buffer => {
    if (out.byteLength > maxLength) throw decompressError(new RangeError('too large'), encoding, maxLength);
    return out;
  };
  try {
    const r = encoding === 'gzip' ? run(zlib.gunzipSync, zlib.gunzip, data, opts) : run(zlib.inflateSync, zlib.inflate, data, opts);
    if (r instanceof Promise) {
      return r.then(check, (e: unknown) => {
        throw decompressError(e, encoding, maxLength);
      });
    }
    return check(r);
  } catch (e) {
    if (e instanceof GrpcError) throw e;
    throw decompressError(e, encoding, maxLength);
  }
}
