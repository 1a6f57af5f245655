/**
 * gRPC metadata: lower-case names of [0-9a-z_.-]; text values of printable
 * ASCII, or binary values under names ending in "-bin" (base64 on the wire).
 */
import { GrpcError } from './error.js';
import { Status } from './status.js';

export type MetadataValue = string | Uint8Array;

const NAME = /^[0-9a-z_.-]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Names the protocol or HTTP itself uses; they never appear in a call's metadata. */
const HTTP_HEADERS = new Set([
  'content-type',
  'te',
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'http2-settings',
]);

export function isBinaryName(name: string): boolean {
  return name.endsWith('-bin');
}

/** True when `name` is a legal metadata name (already lower-case). */
export function isValidMetadataName(name: string): boolean {
  return NAME.test(name);
}

/** True for a value made only of printable ASCII (0x20–0x7E). */
export function isValidTextValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** Base64 without padding, as gRPC emits binary metadata. */
export function encodeBinaryValue(value: Uint8Array): string {
  const s = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x3d) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** Base64, padded or not, with or without surrounding whitespace. */
function isBase64Value(text: string): boolean {
  const s = text.trim();
  if (!BASE64.test(s) || s.length % 4 === 1) return false;
  const pad = s.indexOf('=');
  return pad === -1 || (s.length % 4 === 0 && pad >= s.length - 2);
}

/** Decode one base64 value, padded or not. Returns undefined when it is not base64. */
export function decodeBinaryValue(text: string): Buffer | undefined {
  return isBase64Value(text) ? Buffer.from(text.trim(), 'base64') : undefined;
}

function checkName(name: string): string {
  const n = name.toLowerCase();
  if (!NAME.test(n)) throw new TypeError(`invalid metadata name ${JSON.stringify(name)}: use only 0-9 a-z _ . -`);
  if (n.startsWith('grpc-')) throw new TypeError(`metadata name ${JSON.stringify(name)} is reserved for the gRPC protocol`);
  // Sent as metadata these would override the protocol's own fields (content-type)
  // or are forbidden on HTTP/2 (connection, te, ...), failing the whole response.
  if (HTTP_HEADERS.has(n)) throw new TypeError(`metadata name ${JSON.stringify(name)} is an HTTP header the protocol controls`);
  return n;
}

function checkValue(name: string, value: MetadataValue): MetadataValue {
  if (isBinaryName(name)) {
    if (!(value instanceof Uint8Array)) throw new TypeError(`metadata ${name} ends in -bin and takes a Uint8Array value`);
    return value;
  }
  if (typeof value !== 'string') throw new TypeError(`metadata ${name} takes a string value (binary values need a name ending in -bin)`);
  if (!isValidTextValue(value)) throw new TypeError(`metadata ${name}: text values must be printable ASCII (0x20-0x7E)`);
  return value;
}

/** Shared by every empty Metadata; never written (see Metadata.#writable). */
const NO_ENTRIES = new Map<string, MetadataValue[]>();

export class Metadata implements Iterable<[string, MetadataValue]> {
  // Most calls carry no metadata: an empty instance shares one empty map until its first write.
  #entries: Map<string, MetadataValue[]> = NO_ENTRIES;

  #writable(): Map<string, MetadataValue[]> {
    if (this.#entries === NO_ENTRIES) this.#entries = new Map();
    return this.#entries;
  }

  constructor(init?: Iterable<readonly [string, MetadataValue]> | Readonly<Record<string, MetadataValue | readonly MetadataValue[]>>) {
    if (!init) return;
    if (Symbol.iterator in init) {
      for (const [k, v] of init as Iterable<readonly [string, MetadataValue]>) this.add(k, v);
    } else {
      for (const [k, v] of Object.entries(init)) {
        if (Array.isArray(v)) for (const x of v as readonly MetadataValue[]) this.add(k, x);
        else this.add(k, v as MetadataValue);
      }
    }
  }

  /** The first value under `name`. */
  get(name: string): MetadataValue | undefined {
    return this.#entries.get(name.toLowerCase())?.[0];
  }

  /** Every value under `name`, in order. */
  getAll(name: string): MetadataValue[] {
    return this.#entries.get(name.toLowerCase())?.slice() ?? [];
  }

  has(name: string): boolean {
    return this.#entries.has(name.toLowerCase());
  }

  /** Replace all values under `name`. */
  set(name: string, value: MetadataValue): this {
    const n = checkName(name);
    this.#writable().set(n, [checkValue(n, value)]);
    return this;
  }

  /** Add a value under `name`, keeping the ones already there. */
  add(name: string, value: MetadataValue): this {
    const n = checkName(name);
    const v = checkValue(n, value);
    const list = this.#entries.get(n);
    if (list) list.push(v);
    else this.#writable().set(n, [v]);
    return this;
  }

  delete(name: string): boolean {
    return this.#entries.delete(name.toLowerCase());
  }

  clear(): void {
    this.#entries.clear();
  }

  /** Number of distinct names. */
  get size(): number {
    return this.#entries.size;
  }

  keys(): IterableIterator<string> {
    return this.#entries.keys();
  }

  *[Symbol.iterator](): IterableIterator<[string, MetadataValue]> {
    for (const [k, list] of this.#entries) for (const v of list) yield [k, v];
  }

  /** Copy every entry of `other` into this one (added after existing values). */
  merge(other: Metadata): this {
    for (const [k, list] of other.#entries) {
      const mine = this.#entries.get(k);
      if (mine) mine.push(...list);
      else this.#writable().set(k, list.slice());
    }
    return this;
  }

  clone(): Metadata {
    return new Metadata().merge(this);
  }

  /** Names to values (arrays when repeated); binary values as base64. */
  toJSON(): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    for (const [k, list] of this.#entries) {
      const text = list.map((v) => (typeof v === 'string' ? v : encodeBinaryValue(v)));
      out[k] = text.length === 1 ? text[0]! : text;
    }
    return out;
  }

  /** Append the entries as HTTP header pairs (binary values base64, unpadded). */
  appendTo(out: [string, string][]): void {
    for (const [k, list] of this.#entries) {
      if (isBinaryName(k)) for (const v of list) out.push([k, encodeBinaryValue(v as Uint8Array)]);
      else for (const v of list) out.push([k, v as string]);
    }
  }

  /** Write the entries into a header record (repeated names become arrays; binary values base64, unpadded). */
  writeTo(out: Record<string, string | string[]>): void {
    for (const [k, list] of this.#entries) {
      const bin = isBinaryName(k);
      const prev = out[k];
      if (list.length === 1 && prev === undefined) {
        const v = list[0]!;
        out[k] = bin ? encodeBinaryValue(v as Uint8Array) : (v as string);
        continue;
      }
      const vals = typeof prev === 'string' ? [prev] : (prev ?? []);
      for (const v of list) vals.push(bin ? encodeBinaryValue(v as Uint8Array) : (v as string));
      out[k] = vals;
    }
  }

  /** Whether there is nothing to send. */
  get isEmpty(): boolean {
    return this.#entries.size === 0;
  }

  /** @internal Add an already validated entry without checks. */
  _push(name: string, value: MetadataValue): void {
    const list = this.#entries.get(name);
    if (list) list.push(value);
    else this.#writable().set(name, [value]);
  }
}

/** Limits applied while reading request metadata. */
export interface MetadataLimits {
  /** Sum over entries of name + value + 32 bytes (the HTTP/2 header list accounting). */
  readonly maxSize: number;
}

/** True for a name made only of 0-9 a-z _ . - (the regular expression NAME, without its cost per header). */
function isMetadataNameChars(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    // 0-9, a-z, '_', '.', '-'
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2e || c === 0x2d)) return false;
  }
  return true;
}

/** Whether a request header line is left out of the call's metadata. */
function isProtocolHeader(name: string): boolean {
  return name.charCodeAt(0) === 0x3a /* : */ || name.startsWith('grpc-') || HTTP_HEADERS.has(name);
}

/**
 * Check request header lines as `metadataFromHeaders` does (names, base64 of
 * `-bin` values, total size), without building anything. Returns how many
 * lines are metadata. Throws the GrpcError the call ends with.
 */
export function checkMetadataHeaders(rawHeaders: readonly (readonly [string, string])[], limits: MetadataLimits): number {
  let size = 0;
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i++) {
    const line = rawHeaders[i]!;
    const name = line[0];
    const value = line[1];
    size += name.length + value.length + 32;
    if (isProtocolHeader(name)) continue;
    if (!isMetadataNameChars(name)) {
      throw new GrpcError(Status.INTERNAL, `invalid metadata name ${JSON.stringify(name)}`);
    }
    if (isBinaryName(name)) {
      for (const part of value.split(',')) {
        if (!isBase64Value(part)) throw new GrpcError(Status.INTERNAL, `metadata ${name} is not valid base64`);
      }
    }
    count++;
  }
  if (size > limits.maxSize) {
    throw new GrpcError(Status.RESOURCE_EXHAUSTED, `request metadata of ${size} bytes exceeds the limit of ${limits.maxSize}`);
  }
  return count;
}

/**
 * `checkMetadataHeaders` from the joined header record, for a request whose
 * fields each came as one line, without reading the line list (which a
 * transport may have to build, and then keeps for the request's life). Every
 * repeated field shows in the record as values joined with ", " ("; " for
 * cookie); when no value has either, the record holds exactly the request's
 * lines and gives the same count and size. Returns -1 when it cannot tell, or
 * when something is wrong: the caller then checks the lines themselves (which
 * reports the first fault in arrival order).
 */
export function checkMetadataRecord(headers: Readonly<Record<string, string>>, limits: MetadataLimits): number {
  let size = 0;
  let count = 0;
  for (const name in headers) {
    const value = headers[name]!;
    if (value.includes(', ') || value.includes('; ')) return -1;
    size += name.length + value.length + 32;
    if (isProtocolHeader(name)) continue;
    // Digit-first names are iterated out of arrival order; the line check keeps the order.
    const c = name.charCodeAt(0);
    if ((c >= 0x30 && c <= 0x39) || !isMetadataNameChars(name)) return -1;
    if (isBinaryName(name)) {
      for (const part of value.split(',')) if (!isBase64Value(part)) return -1;
    }
    count++;
  }
  return size > limits.maxSize ? -1 : count;
}

/** @internal Build the metadata of header lines that `checkMetadataHeaders` accepted. */
export function readCheckedMetadata(rawHeaders: readonly (readonly [string, string])[]): Metadata {
  const md = new Metadata();
  for (let i = 0; i < rawHeaders.length; i++) {
    const line = rawHeaders[i]!;
    const name = line[0];
    if (isProtocolHeader(name)) continue;
    const value = line[1];
    if (isBinaryName(name)) {
      for (const part of value.split(',')) md._push(name, Buffer.from(part.trim(), 'base64'));
    } else {
      md._push(name, value);
    }
  }
  return md;
}

/**
 * Read a call's metadata from request header lines. Pseudo-headers, HTTP
 * connection headers and `grpc-*` protocol headers are left out. A name
 * outside [0-9a-z_.-], a `-bin` value that is not base64, or a header list
 * over the limit ends the call with a status.
 */
export function metadataFromHeaders(
  rawHeaders: readonly (readonly [string, string])[],
  limits: MetadataLimits,
): Metadata {
  checkMetadataHeaders(rawHeaders, limits);
  return readCheckedMetadata(rawHeaders);
}
