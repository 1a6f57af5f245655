/**
 * Metadata with the method set of @grpc/grpc-js's Metadata class (get returns
 * every value, getMap the first of each, -bin values are Buffers), plus the
 * conversions between it, grpc-js Metadata instances and the server's own
 * Metadata.
 */
import { Metadata, type MetadataValue } from '../metadata.js';

/** A grpc-js metadata value: a string, or a Buffer under a name ending in "-bin". */
export type GrpcJsMetadataValue = string | Buffer;

/** Anything with grpc-js's `toJSON()` shape: an instance of this class, or a Metadata from @grpc/grpc-js. */
export interface GrpcJsMetadataLike {
  toJSON(): Record<string, readonly (string | Uint8Array)[]>;
}

const LEGAL_NAME = /^[0-9a-z_.-]+$/;

function checkKey(key: string): string {
  const k = key.toLowerCase();
  if (!LEGAL_NAME.test(k)) throw new Error(`Metadata key "${key}" contains illegal characters`);
  return k;
}

function checkValue(key: string, value: GrpcJsMetadataValue): GrpcJsMetadataValue {
  if (key.endsWith('-bin')) {
    if (!Buffer.isBuffer(value)) throw new Error("keys that end with '-bin' must have Buffer values");
    return value;
  }
  if (Buffer.isBuffer(value)) throw new Error("keys that don't end with '-bin' must have String values");
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) throw new Error(`Metadata string value "${value}" contains illegal characters`);
  }
  return value;
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** Call metadata as grpc-js handlers expect it. */
export class GrpcJsMetadata implements GrpcJsMetadataLike {
  readonly #map = new Map<string, GrpcJsMetadataValue[]>();
  #options: Record<string, unknown>;

  constructor(options: Record<string, unknown> = {}) {
    this.#options = options;
  }

  /** Replaces every value under `key`. */
  set(key: string, value: GrpcJsMetadataValue): void {
    const k = checkKey(key);
    this.#map.set(k, [checkValue(k, value)]);
  }

  /** Adds a value under `key`. */
  add(key: string, value: GrpcJsMetadataValue): void {
    const k = checkKey(key);
    const v = checkValue(k, value);
    const list = this.#map.get(k);
    if (list) list.push(v);
    else this.#map.set(k, [v]);
  }

  remove(key: string): void {
    this.#map.delete(checkKey(key));
  }

  /** Every value under `key` (an empty array when there is none). */
  get(key: string): GrpcJsMetadataValue[] {
    return this.#map.get(checkKey(key))?.slice() ?? [];
  }

  /** The first value of every key. */
  getMap(): Record<string, GrpcJsMetadataValue> {
    const out: Record<string, GrpcJsMetadataValue> = {};
    for (const [k, list] of this.#map) if (list.length > 0) out[k] = list[0]!;
    return out;
  }

  clone(): GrpcJsMetadata {
    const copy = new GrpcJsMetadata({ ...this.#options });
    for (const [k, list] of this.#map) copy.#map.set(k, list.slice());
    return copy;
  }

  /** Adds every value of `other` (any grpc-js style metadata). */
  merge(other: GrpcJsMetadataLike): void {
    for (const [k, list] of Object.entries(other.toJSON())) {
      for (const v of list) this.add(k, typeof v === 'string' ? v : toBuffer(v));
    }
  }

  setOptions(options: Record<string, unknown>): void {
    this.#options = options;
  }

  getOptions(): Record<string, unknown> {
    return this.#options;
  }

  /** Key to every value, as grpc-js does. */
  toJSON(): Record<string, GrpcJsMetadataValue[]> {
    const out: Record<string, GrpcJsMetadataValue[]> = {};
    for (const [k, list] of this.#map) out[k] = list.slice();
    return out;
  }

  /** Header-shaped copy: binary values base64, repeated keys as arrays. */
  toHttp2Headers(): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    for (const [k, list] of this.#map) {
      out[k] = list.map((v) => (typeof v === 'string' ? v : v.toString('base64')));
    }
    return out;
  }

  /** The incoming call metadata, as a grpc-js handler sees it. */
  static fromMetadata(metadata: Metadata): GrpcJsMetadata {
    const md = new GrpcJsMetadata();
    for (const [k, v] of metadata) {
      const list = md.#map.get(k);
      const value = typeof v === 'string' ? v : toBuffer(v);
      if (list) list.push(value);
      else md.#map.set(k, [value]);
    }
    return md;
  }
}

/** True for this module's class, grpc-js's Metadata, or anything else with their `toJSON()`/`getMap()` pair. */
export function isGrpcJsMetadataLike(value: unknown): value is GrpcJsMetadataLike {
  if (value === null || typeof value !== 'object') return false;
  const v = value as { toJSON?: unknown; getMap?: unknown };
  return typeof v.toJSON === 'function' && typeof v.getMap === 'function';
}

/**
 * Copies grpc-js style metadata into the server's Metadata. Names the protocol
 * reserves (grpc-*) and entries the wire cannot carry are left out.
 */
export function copyIntoMetadata(target: Metadata, source: GrpcJsMetadataLike | Metadata | null | undefined): void {
  if (!source) return;
  if (source instanceof Metadata) {
    target.merge(source);
    return;
  }
  for (const [key, list] of Object.entries(source.toJSON())) {
    const k = key.toLowerCase();
    if (k.startsWith('grpc-') || !Array.isArray(list)) continue;
    for (const value of list as readonly unknown[]) {
      const v: MetadataValue | undefined =
        typeof value === 'string' ? value : value instanceof Uint8Array ? value : undefined;
      if (v === undefined) continue;
      try {
        target.add(k, v);
      } catch {
        // a value grpc-js would also refuse to send (wrong type for the name, non-printable text)
      }
    }
  }
}
