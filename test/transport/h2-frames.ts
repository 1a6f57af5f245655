/**
 * A raw HTTP/2 client for protocol tests: it writes frames byte for byte
 * (including broken ones) and reads every frame the server sends. Header
 * blocks it sends are plain HPACK literals; header blocks it receives are
 * decoded with a small HPACK decoder of its own (static table, dynamic table,
 * Huffman), independent of any server-side implementation.
 */
import http2, { type OutgoingHttpHeaders } from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Frame types (RFC 9113 section 6). */
export const T = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags. ACK and END_STREAM share bit 0x1. */
export const F = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** Error codes (RFC 9113 section 7). */
export const E = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** Setting identifiers (RFC 9113 section 6.5.2). */
export const S = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

const ERROR_NAMES = new Map<number, string>(Object.entries(E).map(([k, v]) => [v, k]));
const TYPE_NAMES = new Map<number, string>(Object.entries(T).map(([k, v]) => [v, k]));

export function errorName(code: number | undefined): string {
  if (code === undefined) return 'none';
  return ERROR_NAMES.get(code) ?? `0x${code.toString(16)}`;
}

export function typeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `type 0x${type.toString(16)}`;
}

// ---------------------------------------------------------------------------
// Writing frames

/** A frame header (9 octets) and its payload. The length field is the payload's real length unless `length` is given. */
export function frame(type: number, flags: number, stream: number, payload: Uint8Array = Buffer.alloc(0), length?: number): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(length ?? payload.byteLength, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([head, payload]);
}

export function settingsPayload(pairs: readonly (readonly [number, number])[]): Buffer {
  const out = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, value], i) => {
    out.writeUInt16BE(id, i * 6);
    out.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return out;
}

export function settings(pairs: readonly (readonly [number, number])[] = []): Buffer {
  return frame(T.SETTINGS, 0, 0, settingsPayload(pairs));
}

export function settingsAck(): Buffer {
  return frame(T.SETTINGS, F.ACK, 0);
}

export function ping(payload: Uint8Array, ack = false, stream = 0): Buffer {
  return frame(T.PING, ack ? F.ACK : 0, stream, payload);
}

export function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

export function rstStream(stream: number, code: number): Buffer {
  return frame(T.RST_STREAM, 0, stream, u32(code));
}

export function windowUpdate(stream: number, increment: number): Buffer {
  return frame(T.WINDOW_UPDATE, 0, stream, u32(increment));
}

export function goaway(lastStream: number, code: number): Buffer {
  return frame(T.GOAWAY, 0, 0, Buffer.concat([u32(lastStream), u32(code)]));
}

export function data(stream: number, bytes: Uint8Array, endStream = false): Buffer {
  return frame(T.DATA, endStream ? F.END_STREAM : 0, stream, bytes);
}

/** PRIORITY frame payload fields (RFC 9113 section 6.3): dependency, weight - 1, exclusive bit. */
export function priorityFields(dependsOn: number, weight = 16, exclusive = false): Buffer {
  const b = Buffer.alloc(5);
  b.writeUInt32BE(((exclusive ? 0x80000000 : 0) | dependsOn) >>> 0);
  b[4] = weight - 1;
  return b;
}

export interface HeadersOptions {
  readonly endStream?: boolean;
  /** Default true. */
  readonly endHeaders?: boolean;
  /** Adds the PRIORITY flag with these 5 octets. */
  readonly priority?: Buffer;
  /** Adds the PADDED flag with this many octets of padding. */
  readonly padding?: number;
}

export function headers(stream: number, block: Uint8Array, options: HeadersOptions = {}): Buffer {
  let flags = 0;
  if (options.endStream) flags |= F.END_STREAM;
  if (options.endHeaders !== false) flags |= F.END_HEADERS;
  const parts: Uint8Array[] = [];
  if (options.padding !== undefined) {
    flags |= F.PADDED;
    parts.push(Buffer.from([options.padding]));
  }
  if (options.priority !== undefined) {
    flags |= F.PRIORITY;
    parts.push(options.priority);
  }
  parts.push(block);
  if (options.padding !== undefined) parts.push(Buffer.alloc(options.padding));
  return frame(T.HEADERS, flags, stream, Buffer.concat(parts));
}

export function continuation(stream: number, block: Uint8Array, endHeaders: boolean): Buffer {
  return frame(T.CONTINUATION, endHeaders ? F.END_HEADERS : 0, stream, block);
}

// ---------------------------------------------------------------------------
// HPACK encoding (what this client sends): literals only, no Huffman, no indexing

/** An HPACK integer (RFC 7541 section 5.1) with `prefix` bits in the first octet, whose high bits are `high`. */
export function hpackInt(value: number, prefix: number, high = 0): Buffer {
  const max = (1 << prefix) - 1;
  if (value < max) return Buffer.from([high | value]);
  const out = [high | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  return Buffer.concat([hpackInt(bytes.length, 7), bytes]);
}

export type Field = readonly [name: string, value: string];

/** One field as a literal without indexing with a literal name (RFC 7541 section 6.2.2). Names are sent exactly as given. */
export function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
}

export function encodeFields(fields: readonly Field[]): Buffer {
  return Buffer.concat(fields.map(([n, v]) => literal(n, v)));
}

/** The pseudo-header fields of a plain request, then `extra`. */
export function requestFields(port: number, method: string, path: string, extra: readonly Field[] = []): Field[] {
  return [[':method', method], [':scheme', 'http'], [':path', path], [':authority', `127.0.0.1:${port}`], ...extra];
}

// ---------------------------------------------------------------------------
// HPACK decoding (what the server sends)

export class HpackError extends Error {
  override readonly name = 'HpackError';
}

const STATIC_TABLE: readonly Field[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

/** Huffman code lengths of symbols 0..255 and EOS (RFC 7541 Appendix B); the code itself is canonical. */
const HUFFMAN_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;

/** Code → symbol, one map per code length, built from the canonical lengths. */
const HUFFMAN_BY_LENGTH: ReadonlyMap<number, ReadonlyMap<number, number>> = (() => {
  const symbols = HUFFMAN_LENGTHS.map((_, s) => s).sort((a, b) => HUFFMAN_LENGTHS[a]! - HUFFMAN_LENGTHS[b]! || a - b);
  const byLength = new Map<number, Map<number, number>>();
  let code = 0;
  let length = HUFFMAN_LENGTHS[symbols[0]!]!;
  for (const s of symbols) {
    const l = HUFFMAN_LENGTHS[s]!;
    code *= 2 ** (l - length);
    length = l;
    let m = byLength.get(l);
    if (m === undefined) byLength.set(l, (m = new Map()));
    m.set(code, s);
    code++;
  }
  return byLength;
})();

export function huffmanDecode(bytes: Uint8Array): Buffer {
  const out: number[] = [];
  let code = 0;
  let length = 0;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      length++;
      const symbol = HUFFMAN_BY_LENGTH.get(length)?.get(code);
      if (symbol !== undefined) {
        if (symbol === EOS) throw new HpackError('Huffman string contains EOS');
        out.push(symbol);
        code = 0;
        length = 0;
      } else if (length > 30) throw new HpackError('invalid Huffman code');
    }
  }
  // Padding: fewer than 8 bits, all ones (a prefix of EOS).
  if (length > 7 || code !== 2 ** length - 1) throw new HpackError('invalid Huffman padding');
  return Buffer.from(out);
}

/** Decodes header blocks of one connection, keeping its dynamic table. */
export class HpackDecoder {
  private table: Field[] = [];
  private size = 0;

  constructor(private maxSize = 4096) {}

  decode(block: Uint8Array): Field[] {
    const buf = Buffer.from(block.buffer, block.byteOffset, block.byteLength);
    const fields: Field[] = [];
    let pos = 0;
    const int = (prefix: number): number => {
      if (pos >= buf.length) throw new HpackError('truncated integer');
      const max = (1 << prefix) - 1;
      let value = buf[pos++]! & max;
      if (value < max) return value;
      let shift = 0;
      for (;;) {
        if (pos >= buf.length) throw new HpackError('truncated integer');
        const b = buf[pos++]!;
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) return value;
        if (shift > 28) throw new HpackError('integer too large');
      }
    };
    const str = (): string => {
      if (pos >= buf.length) throw new HpackError('truncated string');
      const huffman = (buf[pos]! & 0x80) !== 0;
      const length = int(7);
      if (pos + length > buf.length) throw new HpackError('truncated string');
      const raw = buf.subarray(pos, pos + length);
      pos += length;
      return (huffman ? huffmanDecode(raw) : raw).toString('latin1');
    };
    const entry = (index: number): Field => {
      if (index === 0) throw new HpackError('index 0');
      if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
      const e = this.table[index - STATIC_TABLE.length - 1];
      if (e === undefined) throw new HpackError(`index ${index} out of range`);
      return e;
    };
    while (pos < buf.length) {
      const b = buf[pos]!;
      if (b & 0x80) {
        fields.push(entry(int(7)));
      } else if (b & 0x40) {
        const index = int(6);
        const name = index === 0 ? str() : entry(index)[0];
        const field: Field = [name, str()];
        fields.push(field);
        this.insert(field);
      } else if (b & 0x20) {
        const size = int(5);
        if (size > 4096) throw new HpackError(`table size update to ${size} above the limit`);
        this.maxSize = size;
        this.evict();
      } else {
        const index = int(4);
        const name = index === 0 ? str() : entry(index)[0];
        fields.push([name, str()]);
      }
    }
    return fields;
  }

  private insert(field: Field): void {
    this.table.unshift(field);
    this.size += Buffer.byteLength(field[0], 'latin1') + Buffer.byteLength(field[1], 'latin1') + 32;
    this.evict();
  }

  private evict(): void {
    while (this.size > this.maxSize && this.table.length > 0) {
      const e = this.table.pop()!;
      this.size -= Buffer.byteLength(e[0], 'latin1') + Buffer.byteLength(e[1], 'latin1') + 32;
    }
  }
}

// ---------------------------------------------------------------------------
// Reading frames

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly payload: Buffer;
  /** For HEADERS (and PUSH_PROMISE): the decoded field block, once its last CONTINUATION arrived. */
  fields?: Field[];
}

export interface ConnectionError {
  /** The GOAWAY's error code, or undefined when the server closed the connection without one. */
  readonly code: number | undefined;
  readonly lastStream: number | undefined;
}

export type StreamOutcome =
  | { readonly kind: 'stream'; readonly code: number }
  | { readonly kind: 'connection'; readonly code: number | undefined };

export interface Response {
  readonly status: string | undefined;
  readonly headers: Field[];
  readonly body: Buffer;
  /** DATA frames of the stream (including empty ones). */
  readonly dataFrames: number;
  readonly trailers: Field[] | undefined;
  /** The RST_STREAM code, when the server reset the stream instead of ending it. */
  readonly reset: number | undefined;
}

export interface SecureOptions {
  /** The certificate authority to trust (a self-signed certificate itself). */
  readonly ca: string;
  /** SNI name, which the certificate must match. */
  readonly servername: string;
}

export interface ConnectOptions {
  /** Connect with TLS instead of cleartext. */
  readonly secure?: SecureOptions;
  /** Settings sent in the client's first SETTINGS frame. */
  readonly settings?: readonly (readonly [number, number])[];
  /** Answer the server's SETTINGS with an ACK (default true). */
  readonly ackSettings?: boolean;
  /** Give back flow-control credit for DATA as it arrives (default true). */
  readonly autoWindow?: boolean;
}

/** One raw HTTP/2 connection to 127.0.0.1. */
export class RawH2 {
  readonly frames: Frame[] = [];
  closed = false;
  /** Set when the server's bytes could not be parsed as frames (e.g. an HTTP/1.1 answer). */
  garbage = false;
  private buf: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private readonly decoder = new HpackDecoder();
  private block: { frame: Frame; parts: Buffer[] } | undefined;
  private ackSettings = true;
  autoWindow = true;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /** A TCP connection (or a TLS one offering only "h2" by ALPN) with nothing sent yet. */
  static async socket(port: number, secure?: SecureOptions): Promise<RawH2> {
    const socket =
      secure === undefined
        ? net.connect(port, '127.0.0.1')
        : tls.connect({ port, host: '127.0.0.1', servername: secure.servername, ca: secure.ca, ALPNProtocols: ['h2'] });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once(secure === undefined ? 'connect' : 'secureConnect', resolve);
      socket.once('error', reject);
    });
    return new RawH2(socket);
  }

  /** Preface and SETTINGS sent, the server's SETTINGS received (and acknowledged unless told otherwise). */
  static async connect(port: number, options: ConnectOptions = {}): Promise<RawH2> {
    const c = await RawH2.socket(port, options.secure);
    c.ackSettings = options.ackSettings ?? true;
    c.autoWindow = options.autoWindow ?? true;
    c.send(PREFACE, settings(options.settings ?? []));
    await c.until(() => c.frames.find((f) => f.type === T.SETTINGS && (f.flags & F.ACK) === 0), 'the server SETTINGS');
    return c;
  }

  /** The protocol ALPN chose, on a TLS connection. */
  get alpnProtocol(): string | false | null | undefined {
    return this.socket instanceof tls.TLSSocket ? this.socket.alpnProtocol : undefined;
  }

  send(...chunks: Uint8Array[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(chunks));
  }

  /** Write and wait until the bytes are handed to the OS (or the connection is gone). */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.socket.destroyed || this.closed) return;
    await new Promise<void>((resolve) => {
      const flushed = this.socket.write(chunk, () => resolve());
      if (!flushed) this.waitForDrainOrClose().then(resolve, resolve);
    });
  }

  private waitForDrainOrClose(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  /** The server's SETTINGS (its first, non-ACK frame), as id → value. */
  serverSettings(): Map<number, number> {
    const f = this.frames.find((x) => x.type === T.SETTINGS && (x.flags & F.ACK) === 0);
    const out = new Map<number, number>();
    if (f === undefined) return out;
    for (let i = 0; i + 6 <= f.payload.length; i += 6) out.set(f.payload.readUInt16BE(i), f.payload.readUInt32BE(i + 2));
    return out;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  /** Resolves with the first value `check` returns that is not undefined; rejects if the connection closes first. */
  async until<R>(check: () => R | undefined, what: string): Promise<R> {
    for (;;) {
      const r = check();
      if (r !== undefined) return r;
      if (this.closed) throw new Error(`the connection closed before ${what}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Like `until`, but resolves with undefined when the connection closes. */
  async untilOrClosed<R>(check: () => R | undefined): Promise<R | undefined> {
    for (;;) {
      const r = check();
      if (r !== undefined || this.closed) return r;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  goaway(): Frame | undefined {
    return this.frames.find((f) => f.type === T.GOAWAY);
  }

  /**
   * A PING round trip: resolves true with its ACK, false if a GOAWAY arrived
   * or the connection closed first. The server reads frames in order, so once
   * the ACK is back everything sent before the PING has been read.
   */
  async sync(): Promise<boolean> {
    const payload = randomBytes(8);
    this.send(ping(payload));
    const r = await this.untilOrClosed((): boolean | undefined => {
      for (const f of this.frames) {
        if (f.type === T.GOAWAY) return false;
        if (f.type === T.PING && (f.flags & F.ACK) !== 0 && f.payload.equals(payload)) return true;
      }
      return undefined;
    });
    return r === true;
  }

  /**
   * Two PING round trips one after the other. A server may send its PING ACK
   * ahead of frames it queued earlier (a RST_STREAM, say), but not ahead of
   * frames it queued before reading a PING that was sent only after that ACK
   * came back: after this, everything the server meant to answer to the
   * frames sent before has arrived.
   */
  async settle(): Promise<void> {
    if (await this.sync()) await this.sync();
  }

  /**
   * After settle(): the GOAWAY the server sent, `{ code: undefined }` if it
   * closed the connection without one, or undefined if the connection is fine.
   */
  async connectionError(): Promise<ConnectionError | undefined> {
    await this.settle();
    const g = this.goaway();
    if (g !== undefined) return { code: g.payload.readUInt32BE(4), lastStream: g.payload.readUInt32BE(0) & 0x7fffffff };
    if (this.closed) return { code: undefined, lastStream: undefined };
    return undefined;
  }

  /** After settle(): a RST_STREAM on `stream`, else a connection error, else undefined. */
  async streamError(stream: number): Promise<StreamOutcome | undefined> {
    await this.settle();
    const rst = this.frames.find((f) => f.type === T.RST_STREAM && f.stream === stream);
    if (rst !== undefined) return { kind: 'stream', code: rst.payload.readUInt32BE(0) };
    const g = this.goaway();
    if (g !== undefined) return { kind: 'connection', code: g.payload.readUInt32BE(4) };
    if (this.closed) return { kind: 'connection', code: undefined };
    return undefined;
  }

  /** Frames of one stream. */
  streamFrames(stream: number): Frame[] {
    return this.frames.filter((f) => f.stream === stream && f.type !== T.WINDOW_UPDATE);
  }

  /** Waits until `stream` ends (END_STREAM or RST_STREAM) and returns what arrived on it. */
  async response(stream: number): Promise<Response> {
    await this.until(() => {
      for (const f of this.frames) {
        if (f.stream !== stream) continue;
        if (f.type === T.RST_STREAM) return true;
        if ((f.type === T.DATA || f.type === T.HEADERS) && (f.flags & F.END_STREAM) !== 0) {
          // A HEADERS that ends the stream counts once its field block is complete.
          if (f.type === T.DATA || f.fields !== undefined) return true;
        }
      }
      return undefined;
    }, `stream ${stream} ended`);
    return this.collect(stream);
  }

  /** What has arrived on `stream` so far. */
  collect(stream: number): Response {
    const blocks: Field[][] = [];
    const body: Buffer[] = [];
    let dataFrames = 0;
    let reset: number | undefined;
    for (const f of this.frames) {
      if (f.stream !== stream) continue;
      if (f.type === T.HEADERS && f.fields !== undefined) blocks.push(f.fields);
      else if (f.type === T.DATA) {
        dataFrames++;
        body.push(dataPayload(f));
      } else if (f.type === T.RST_STREAM) reset = f.payload.readUInt32BE(0);
    }
    const head = blocks[0] ?? [];
    return {
      status: head.find(([n]) => n === ':status')?.[1],
      headers: head,
      body: Buffer.concat(body),
      dataFrames,
      trailers: blocks.length > 1 ? blocks[blocks.length - 1] : undefined,
      reset,
    };
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const replies: Buffer[] = [];
    while (this.buf.length >= 9) {
      const length = this.buf.readUIntBE(0, 3);
      if (this.frames.length === 0 && (this.buf[3] !== T.SETTINGS || length > 1 << 24)) {
        this.garbage = true; // not HTTP/2 (an HTTP/1.x answer, for instance)
        this.buf = Buffer.alloc(0);
        break;
      }
      if (this.buf.length < 9 + length) break;
      const f: Frame = {
        type: this.buf[3]!,
        flags: this.buf[4]!,
        stream: this.buf.readUInt32BE(5) & 0x7fffffff,
        payload: Buffer.from(this.buf.subarray(9, 9 + length)),
      };
      this.buf = this.buf.subarray(9 + length);
      this.onFrame(f, replies);
      this.frames.push(f);
    }
    if (replies.length > 0) this.send(...replies);
    this.wake();
  }

  private onFrame(f: Frame, replies: Buffer[]): void {
    if (f.type === T.SETTINGS && (f.flags & F.ACK) === 0 && this.ackSettings) replies.push(settingsAck());
    if (f.type === T.DATA && this.autoWindow && f.payload.length > 0) {
      replies.push(windowUpdate(0, f.payload.length));
      if ((f.flags & F.END_STREAM) === 0) replies.push(windowUpdate(f.stream, f.payload.length));
    }
    if (f.type === T.HEADERS || f.type === T.PUSH_PROMISE) {
      const fragment = headerFragment(f);
      if (f.flags & F.END_HEADERS) this.decodeBlock(f, [fragment]);
      else this.block = { frame: f, parts: [fragment] };
    } else if (f.type === T.CONTINUATION && this.block !== undefined) {
      this.block.parts.push(f.payload);
      if (f.flags & F.END_HEADERS) {
        const b = this.block;
        this.block = undefined;
        this.decodeBlock(b.frame, b.parts);
      }
    }
  }

  private decodeBlock(f: Frame, parts: Buffer[]): void {
    try {
      f.fields = this.decoder.decode(Buffer.concat(parts));
    } catch (err) {
      f.fields = [['x-hpack-decode-error', String(err)]];
    }
  }
}

/** The field block fragment of a HEADERS or PUSH_PROMISE frame (padding and priority removed). */
function headerFragment(f: Frame): Buffer {
  let start = 0;
  let end = f.payload.length;
  if (f.flags & F.PADDED) {
    end -= f.payload[0]!;
    start = 1;
  }
  if (f.type === T.HEADERS && f.flags & F.PRIORITY) start += 5;
  if (f.type === T.PUSH_PROMISE) start += 4;
  return f.payload.subarray(start, Math.max(start, end));
}

function dataPayload(f: Frame): Buffer {
  if ((f.flags & F.PADDED) === 0) return f.payload;
  return f.payload.subarray(1, Math.max(1, f.payload.length - f.payload[0]!));
}

/** A short description of frames, for assertion messages. */
export function describe(frames: readonly Frame[]): string {
  return frames
    .map((f) => {
      let extra = '';
      if (f.type === T.RST_STREAM && f.payload.length === 4) extra = ` ${errorName(f.payload.readUInt32BE(0))}`;
      if (f.type === T.GOAWAY && f.payload.length >= 8) extra = ` ${errorName(f.payload.readUInt32BE(4))} last=${f.payload.readUInt32BE(0)}`;
      if (f.type === T.DATA) extra = ` ${f.payload.length}B`;
      return `${typeName(f.type)}(s${f.stream} f0x${f.flags.toString(16)}${extra})`;
    })
    .join(' ');
}

/** The raw connections a test file has open, so that each case closes its own at its end. */
export class OpenConnections {
  private readonly open: RawH2[] = [];

  /** Keep `c` for closeAll(); returns it. */
  track(c: RawH2): RawH2 {
    this.open.push(c);
    return c;
  }

  closeAll(): void {
    for (const c of this.open.splice(0)) c.close();
  }
}

/** The :status a fresh node:http2 client connection gets for one request; the connection is closed after it. */
export async function freshStatus(port: number, request: OutgoingHttpHeaders, body?: string): Promise<number> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  try {
    return await new Promise<number>((resolve, reject) => {
      const req = client.request(request);
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
      req.end(body);
    });
  } finally {
    client.close();
  }
}
