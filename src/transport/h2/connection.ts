/**
 * A server-side HTTP/2 connection (RFC 9113) over any Node socket: frame
 * parsing, SETTINGS, stream states, flow control in both directions, HPACK
 * (RFC 7541) through ./hpack.js, and the protective limits a public server
 * needs (concurrent streams, header block size, reset and control-frame
 * floods). Streams are objects of a subclass of H2Stream that the owner of the
 * connection supplies, so one object per request carries the protocol state
 * and whatever the owner builds on top of it.
 *
 * Output is gathered in a slab and written once per event-loop turn, so the
 * HEADERS, DATA and trailing HEADERS of many responses share one write.
 */
import type { Socket } from 'node:net';
import {
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  ErrorCode,
  FRAME_HEADER_BYTES,
  Flag,
  FrameType,
  LARGEST_MAX_FRAME_SIZE,
  MAX_WINDOW,
  PREFACE,
  Setting,
} from './constants.js';
import { checkRequestFields, checkTrailerFields, type RequestHead } from './fields.js';
import { HpackDecoder, HpackError } from './hpack.js';

export interface H2ConnectionOptions {
  /** Largest decoded header list (RFC 9113 section 6.5.2 sizes) a request may carry; larger ones reach the stream as `null`. */
  readonly maxHeaderListSize: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE to advertise (default maxHeaderListSize); a larger value lets oversized requests reach the 431 answer. */
  readonly advertisedHeaderListSize?: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS: streams beyond it are refused with REFUSED_STREAM. */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: how much request body one stream may have in flight unread. */
  readonly streamWindow: number;
  /** How much request body the whole connection may have in flight unread. */
  readonly connectionWindow: number;
  /** Close the connection after this long without an open stream (0: never). */
  readonly idleTimeoutMs: number;
  /** Make the object for a new stream (not yet validated: keep the constructor free of side effects). */
  createStream(connection: H2Connection, id: number): H2Stream;
  /** Told about each connection error this side detected, with the code sent in GOAWAY. */
  onProtocolError?(code: number, reason: string): void;
}

/** How a stream ended, as H2Stream.closed reports it. */
export const enum CloseKind {
  /** Both sides sent END_STREAM. */
  Done = 0,
  /** The client sent RST_STREAM (code given). */
  PeerReset = 1,
  /** This side sent RST_STREAM (code given). */
  LocalReset = 2,
  /** The connection went away first. */
  Disconnected = 3,
}

const SLAB_BYTES = 32 * 1024;
/** Payloads up to this size are copied into the slab; larger ones are written as they are. */
const COPY_LIMIT = 2048;
/** Output waiting in memory beyond which streams are told to wait. */
const HIGH_WATER = 64 * 1024;
/** Control replies (PING and SETTINGS acknowledgements, RST_STREAM) queued while the socket does not drain, beyond which the client counts as flooding. */
const MAX_BLOCKED_REPLIES = 10_000;
/** A header block (HEADERS plus CONTINUATION) larger than this, compressed, ends the connection. */
const MAX_BLOCK_BYTES = 256 * 1024;
const MAX_CONTINUATIONS = 256;
/** Streams the client may reset in a burst, and the rate at which that allowance comes back (per second). */
const RESET_BURST = 1000;
const RESET_RATE = 1000;
const RECENT = 128;
/** Request DATA payloads smaller than this are copied out of the socket read. */
const COPY_BELOW = 1024;
/** A closing connection is checked this often; it is dropped after LINGER_STALLS checks without output progress, or once all output has been out for a check. */
const LINGER_MS = 2000;
const LINGER_STALLS = 5;

/**
 * One stream. The connection fills in the request head, delivers DATA into
 * an in-memory queue (bounded by the stream's flow-control window) and calls
 * the hooks; the owner's subclass implements the hooks and uses the send
 * methods.
 */
export abstract class H2Stream implements RequestHead {
  method = '';
  scheme = '';
  path = '';
  authority: string | undefined = undefined;
  contentLength = -1;
  /** END_STREAM (or a reset) has been received: no more request data will come. */
  remoteClosed = false;
  /** END_STREAM (or a reset) has been sent. */
  localClosed = false;
  /** The stream is gone from the connection. */
  isClosed = false;
  /** END_STREAM was received: the request body is complete. */
  finReceived = false;
  /** END_STREAM was sent: the response is complete. */
  endSent = false;
  /** The (final) response head was sent. */
  headSent = false;
  /** Request body bytes received so far. */
  received = 0;
  /** @internal */ recvWindow: number;
  /** @internal */ sendWindow: number;
  /** @internal unread request body chunks, from `head` on. */
  inbound: Uint8Array[] = [];
  /** @internal */ inboundHead = 0;
  /** @internal consumed bytes not yet returned to the client with WINDOW_UPDATE. */
  unacked = 0;
  /** @internal response body waiting for flow-control window. */
  pending: Uint8Array[] | undefined = undefined;
  /** @internal */ pendingEnd = false;
  /** @internal encoded trailers to send once `pending` is out. */
  pendingTrailers: Buffer | undefined = undefined;
  private writableWaiter: (() => void) | undefined = undefined;

  constructor(
    readonly connection: H2Connection,
    readonly id: number,
  ) {
    this.recvWindow = connection.options.streamWindow;
    this.sendWindow = connection.peerInitialWindow;
  }

  /** The request head arrived (`flat` is null when its header list exceeded the limit). */
  abstract started(flat: string[] | null): void;
  /** Request data or its end arrived. */
  abstract readable(): void;
  /** The stream is over (`code`: the RST_STREAM code where a reset ended it). */
  abstract closed(kind: CloseKind, code: number): void;
  /** END_STREAM went out (the response is complete on the wire). */
  ended(): void {
    // For subclasses.
  }

  /** The next request body chunk; null at the end; undefined when nothing is there yet. */
  read(): Uint8Array | null | undefined {
    const inbound = this.inbound;
    if (this.inboundHead < inbound.length) {
      const chunk = inbound[this.inboundHead]!;
      inbound[this.inboundHead++] = EMPTY;
      if (this.inboundHead === inbound.length) {
        inbound.length = 0;
        this.inboundHead = 0;
      }
      if (!this.isClosed) this.connection.consumed(this, chunk.byteLength);
      return chunk;
    }
    return this.finReceived ? null : undefined;
  }

  /** True when the owner may write without waiting. */
  get writable(): boolean {
    return this.pending === undefined && !this.connection.congested;
  }

  /** Resolves when writing may go on (or the stream closed: check `localClosed`). */
  waitWritable(): Promise<void> {
    if (this.isClosed || this.writable) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const prior = this.writableWaiter;
      this.writableWaiter = prior === undefined ? resolve : () => (prior(), resolve());
      this.connection.waitForOutput(this);
    });
  }

  /** @internal */
  wake(): void {
    const w = this.writableWaiter;
    if (w === undefined) return;
    if (!this.isClosed && !this.writable) {
      this.connection.waitForOutput(this);
      return;
    }
    this.writableWaiter = undefined;
    w();
  }

  /** Send the response head, already HPACK-encoded; `end` sends END_STREAM with it. */
  sendHead(block: Buffer, end: boolean): void {
    if (this.localClosed) throw new Error('the stream is closed');
    this.headSent = true;
    this.connection.writeHeaders(this, block, end);
  }

  /** Send an informational (1xx) head, already HPACK-encoded; ignored once the response head went out. */
  sendInformational(block: Buffer): void {
    if (this.headSent || this.localClosed) return;
    this.connection.writeHeaders(this, block, false);
  }

  /** Send body bytes (END_STREAM after them when `end`). Returns false when the owner should wait (waitWritable). */
  sendData(chunk: Uint8Array, end: boolean): boolean {
    if (this.localClosed) throw new Error('the stream is closed');
    if (end) this.pendingEnd = true;
    if (this.pending !== undefined) {
      if (chunk.byteLength > 0) this.pending.push(chunk);
    } else if (chunk.byteLength > 0 || end) {
      this.pending = [chunk];
    }
    this.connection.pushData(this);
    return this.writable;
  }

  /** End the response with trailers (already HPACK-encoded), after any body still waiting. */
  sendTrailers(block: Buffer): void {
    if (this.localClosed) throw new Error('the stream is closed');
    this.pendingTrailers = block;
    this.pendingEnd = true;
    this.pending ??= [];
    this.connection.pushData(this);
  }

  /** RST_STREAM with `code` (INTERNAL_ERROR when it is not a 32-bit unsigned integer). Output not yet written for this stream is dropped. */
  reset(code: number): void {
    if (this.isClosed) return;
    this.connection.resetStream(this, code >>> 0 === code ? code : ErrorCode.INTERNAL_ERROR, CloseKind.LocalReset);
  }
}

const EMPTY = new Uint8Array(0);

function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

export class H2Connection {
  /** SETTINGS_INITIAL_WINDOW_SIZE the client asked for. */
  peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  private readonly streams = new Map<number, H2Stream>();
  /** The highest stream id the client has opened. */
  private lastStreamId = 0;
  private readonly decoder: HpackDecoder;
  private rest: Buffer | undefined = undefined;
  private prefaceSeen = 0;
  private settingsSeen = false;
  // A header block spread over CONTINUATION frames.
  private blockStream = 0;
  private blockFlags = 0;
  private blockParts: Buffer[] = [];
  private blockBytes = 0;
  private blockFrames = 0;
  private blockSelfDependent = false;
  // Flow control.
  private recvWindow: number;
  private recvUnacked = 0;
  private sendWindow = DEFAULT_WINDOW;
  private readonly windowWaiters = new Set<H2Stream>();
  private readonly outputWaiters = new Set<H2Stream>();
  // Output.
  private slab = Buffer.allocUnsafe(SLAB_BYTES);
  private slabStart = 0;
  private slabEnd = 0;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private blocked = false;
  private blockedReplies = 0;
  // Lifecycle.
  private goawaySent = false;
  private peerGoaway = false;
  private dead = false;
  private idleTimer: NodeJS.Timeout | undefined = undefined;
  private idleSince = 0;
  private resetTokens = RESET_BURST;
  private resetClock = 0;
  private readonly recentIds = new Int32Array(RECENT);
  private readonly recentByUs = new Uint8Array(RECENT);
  private recentNext = 0;
  private closeWaiters: (() => void)[] = [];
  private lingerTimer: NodeJS.Timeout | undefined = undefined;
  /** Output still in the socket at the last linger check, and how many checks in a row saw no progress. */
  private lingerPending = Number.POSITIVE_INFINITY;
  private lingerStalls = 0;

  constructor(
    readonly socket: Socket,
    readonly options: H2ConnectionOptions,
  ) {
    this.decoder = new HpackDecoder();
    this.recvWindow = options.connectionWindow;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', () => undefined);
    socket.once('close', () => this.onSocketClose());
    socket.resume();
    this.writeSettings();
    if (options.connectionWindow > DEFAULT_WINDOW) this.writeWindowUpdate(0, options.connectionWindow - DEFAULT_WINDOW);
    this.flush();
    if (options.idleTimeoutMs > 0) {
      this.idleSince = performance.now();
      this.idleTimer = setTimeout(checkIdle, options.idleTimeoutMs, this);
      this.idleTimer.unref();
    }
  }

  /** Streams currently open. */
  get openStreams(): number {
    return this.streams.size;
  }

  get isClosed(): boolean {
    return this.dead;
  }

  /** More output is waiting than streams should add to. */
  get congested(): boolean {
    return this.blocked || this.queuedBytes + (this.slabEnd - this.slabStart) >= HIGH_WATER;
  }

  /** Resolves when the socket has closed. */
  whenClosed(): Promise<void> {
    if (this.socket.destroyed && this.dead) return Promise.resolve();
    return new Promise<void>((resolve) => this.closeWaiters.push(resolve));
  }

  // ---------------------------------------------------------------- input

  private onData(chunk: Buffer): void {
    if (this.dead) return;
    let buf = chunk;
    if (this.rest !== undefined) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    let off = 0;
    if (this.prefaceSeen < PREFACE.length) {
      const n = Math.min(PREFACE.length - this.prefaceSeen, buf.length);
      for (let i = 0; i < n; i++) {
        if (buf[i] !== PREFACE[this.prefaceSeen + i]) {
          this.fail(ErrorCode.PROTOCOL_ERROR, 'invalid connection preface');
          return;
        }
      }
      this.prefaceSeen += n;
      off = n;
    }
    const limit = DEFAULT_MAX_FRAME_SIZE;
    while (buf.length - off >= FRAME_HEADER_BYTES) {
      const length = (buf[off]! << 16) | (buf[off + 1]! << 8) | buf[off + 2]!;
      if (length > limit) {
        this.fail(ErrorCode.FRAME_SIZE_ERROR, `a frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE (${limit})`);
        return;
      }
      const start = off + FRAME_HEADER_BYTES;
      if (buf.length - start < length) break;
      off = start + length;
      this.frame(buf[off - length - 6]!, buf[off - length - 5]!, readU32(buf, off - length - 4) & 0x7fffffff, buf, start, off);
      if (this.dead) return;
    }
    if (off < buf.length) this.rest = Buffer.from(buf.subarray(off));
    this.scheduleFlush();
  }

  private frame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.blockStream !== 0 && type !== FrameType.CONTINUATION) {
      this.fail(ErrorCode.PROTOCOL_ERROR, 'a header block was interrupted by another frame');
      return;
    }
    if (!this.settingsSeen) {
      if (type !== FrameType.SETTINGS || (flags & Flag.ACK) !== 0) {
        this.fail(ErrorCode.PROTOCOL_ERROR, 'the connection preface must end with SETTINGS');
        return;
      }
      this.settingsSeen = true;
    }
    switch (type) {
      case FrameType.DATA:
        return this.onDataFrame(flags, id, buf, start, end);
      case FrameType.HEADERS:
        return this.onHeadersFrame(flags, id, buf, start, end);
      case FrameType.PRIORITY:
        return this.onPriority(id, buf, start, end);
      case FrameType.RST_STREAM:
        return this.onReset(id, buf, start, end);
      case FrameType.SETTINGS:
        return this.onSettings(flags, id, buf, start, end);
      case FrameType.PUSH_PROMISE:
        return this.fail(ErrorCode.PROTOCOL_ERROR, 'clients must not send PUSH_PROMISE');
      case FrameType.PING:
        return this.onPing(flags, id, buf, start, end);
      case FrameType.GOAWAY:
        return this.onGoaway(id, start, end);
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(id, buf, start, end);
      case FrameType.CONTINUATION:
        return this.onContinuation(flags, id, buf, start, end);
      default:
      // Unknown frame types are ignored (RFC 9113 section 4.1).
    }
  }

  private onDataFrame(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    const length = end - start;
    let dataStart = start;
    let dataEnd = end;
    if ((flags & Flag.PADDED) !== 0) {
      if (length === 0) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'a padded DATA frame without its pad length');
      const pad = buf[start]!;
      if (pad >= length) return this.fail(ErrorCode.PROTOCOL_ERROR, 'DATA padding as long as the frame');
      dataStart++;
      dataEnd -= pad;
    }
    if (length > this.recvWindow) return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
    this.recvWindow -= length;
    const stream = this.streams.get(id);
    if (stream === undefined) {
      this.credit(length);
      if (id > this.lastStreamId) return this.fail(ErrorCode.PROTOCOL_ERROR, 'DATA on an idle stream');
      if (!this.resetByUs(id)) this.writeReset(id, ErrorCode.STREAM_CLOSED);
      return;
    }
    if (stream.remoteClosed) {
      this.credit(length);
      this.resetStream(stream, ErrorCode.STREAM_CLOSED, CloseKind.LocalReset);
      return;
    }
    if (length > stream.recvWindow) {
      this.credit(length);
      this.resetStream(stream, ErrorCode.FLOW_CONTROL_ERROR, CloseKind.LocalReset);
      return;
    }
    stream.recvWindow -= length;
    const size = dataEnd - dataStart;
    // Padding counts against the windows; give it back at once.
    if (length > size) this.consumed(stream, length - size);
    stream.received += size;
    if (stream.contentLength >= 0 && stream.received > stream.contentLength) {
      this.resetStream(stream, ErrorCode.PROTOCOL_ERROR, CloseKind.LocalReset);
      return;
    }
    // Small payloads are copied: a slice would keep the whole socket read alive, and a client
    // sending tiny DATA frames could make that many times the window it was granted.
    if (size > 0) stream.inbound.push(size < COPY_BELOW ? Buffer.from(buf.subarray(dataStart, dataEnd)) : buf.subarray(dataStart, dataEnd));
    if ((flags & Flag.END_STREAM) !== 0) {
      if (stream.contentLength >= 0 && stream.received !== stream.contentLength) {
        this.resetStream(stream, ErrorCode.PROTOCOL_ERROR, CloseKind.LocalReset);
        return;
      }
      this.remoteEnded(stream);
    }
    if (size > 0 || stream.remoteClosed) stream.readable();
  }

  private onHeadersFrame(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    let s = start;
    let e = end;
    const priority = (flags & Flag.PRIORITY) !== 0 ? 5 : 0;
    if ((flags & Flag.PADDED) !== 0) {
      if (e - s < 1 + priority) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'a padded HEADERS frame too short for its pad length and priority fields');
      const pad = buf[s]!;
      s++;
      // Padding may only take what the header block fragment would have (RFC 9113 section 6.2).
      if (pad > e - s - priority) return this.fail(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding longer than the room for the header block');
      e -= pad;
    }
    let selfDependent = false;
    if (priority !== 0) {
      if (e - s < 5) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'HEADERS too short for its priority fields');
      selfDependent = (readU32(buf, s) & 0x7fffffff) === id;
      s += 5;
    }
    if ((flags & Flag.END_HEADERS) === 0) {
      this.blockStream = id;
      this.blockFlags = flags;
      this.blockParts = [Buffer.from(buf.subarray(s, e))];
      this.blockBytes = e - s;
      this.blockFrames = 0;
      this.blockSelfDependent = selfDependent;
      return;
    }
    this.headerBlock(id, flags, buf, s, e, selfDependent);
  }

  private onContinuation(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.blockStream === 0 || id !== this.blockStream) {
      return this.fail(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION without a header block in progress on that stream');
    }
    this.blockBytes += end - start;
    if (this.blockBytes > MAX_BLOCK_BYTES || ++this.blockFrames > MAX_CONTINUATIONS) {
      return this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'header block too large');
    }
    this.blockParts.push(Buffer.from(buf.subarray(start, end)));
    if ((flags & Flag.END_HEADERS) === 0) return;
    const block = Buffer.concat(this.blockParts);
    const streamFlags = this.blockFlags;
    const selfDependent = this.blockSelfDependent;
    this.blockStream = 0;
    this.blockParts = [];
    this.headerBlock(id, streamFlags, block, 0, block.length, selfDependent);
  }

  /** Decode a header block; null if its list is too large; undefined after a connection error. */
  private decode(buf: Buffer, start: number, end: number): string[] | null | undefined {
    try {
      return this.decoder.decode(buf, start, end, this.options.maxHeaderListSize);
    } catch (err) {
      this.fail(ErrorCode.COMPRESSION_ERROR, err instanceof HpackError ? err.message : 'undecodable header block');
      return undefined;
    }
  }

  private headerBlock(id: number, flags: number, buf: Buffer, start: number, end: number, selfDependent: boolean): void {
    const endStream = (flags & Flag.END_STREAM) !== 0;
    const existing = this.streams.get(id);
    if (existing !== undefined) {
      const flat = this.decode(buf, start, end);
      if (flat === undefined) return;
      if (existing.remoteClosed) return this.resetStream(existing, ErrorCode.STREAM_CLOSED, CloseKind.LocalReset);
      // A second HEADERS is the request's trailers: it must end the stream.
      if (!endStream || flat === null || checkTrailerFields(flat) !== undefined) {
        return this.resetStream(existing, ErrorCode.PROTOCOL_ERROR, CloseKind.LocalReset);
      }
      if (existing.contentLength >= 0 && existing.received !== existing.contentLength) {
        return this.resetStream(existing, ErrorCode.PROTOCOL_ERROR, CloseKind.LocalReset);
      }
      this.remoteEnded(existing);
      existing.readable();
      return;
    }
    if (id <= this.lastStreamId) {
      if (this.decode(buf, start, end) === undefined) return;
      const recent = this.recentIndex(id);
      if (recent >= 0 && this.recentByUs[recent] === 1) return; // in flight before our RST_STREAM arrived
      if (recent >= 0) return this.fail(ErrorCode.STREAM_CLOSED, `HEADERS on closed stream ${id}`);
      return this.fail(ErrorCode.PROTOCOL_ERROR, `stream ${id} is not above the last stream opened (${this.lastStreamId})`);
    }
    if ((id & 1) === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, `clients open odd-numbered streams; got ${id}`);
    this.lastStreamId = id;
    const flat = this.decode(buf, start, end);
    if (flat === undefined) return;
    if (this.goawaySent) return; // above the last stream our GOAWAY accepted
    if (selfDependent) return this.refuse(id, ErrorCode.PROTOCOL_ERROR);
    if (this.streams.size >= this.options.maxConcurrentStreams) return this.refuse(id, ErrorCode.REFUSED_STREAM);
    const stream = this.options.createStream(this, id);
    if (flat !== null) {
      const problem = checkRequestFields(flat, stream);
      if (problem !== undefined) return this.refuse(id, ErrorCode.PROTOCOL_ERROR);
      if (endStream && stream.contentLength > 0) return this.refuse(id, ErrorCode.PROTOCOL_ERROR);
    }
    this.streams.set(id, stream);
    if (this.streams.size === 1) this.idleSince = 0;
    if (endStream) stream.remoteClosed = stream.finReceived = true;
    try {
      stream.started(flat);
    } catch {
      // The owner's fault must not escape into the socket's 'data' handler: it costs this stream only.
      this.resetStream(stream, ErrorCode.INTERNAL_ERROR, CloseKind.LocalReset);
    }
  }

  /** Reset a stream that never opened. */
  private refuse(id: number, code: number): void {
    this.remember(id, true);
    this.writeReset(id, code);
  }

  private onPriority(id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
    if (end - start !== 5) {
      const stream = this.streams.get(id);
      if (stream !== undefined) this.resetStream(stream, ErrorCode.FRAME_SIZE_ERROR, CloseKind.LocalReset);
      else this.writeReset(id, ErrorCode.FRAME_SIZE_ERROR);
      return;
    }
    if ((readU32(buf, start) & 0x7fffffff) === id) {
      const stream = this.streams.get(id);
      if (stream !== undefined) this.resetStream(stream, ErrorCode.PROTOCOL_ERROR, CloseKind.LocalReset);
      else this.writeReset(id, ErrorCode.PROTOCOL_ERROR);
    }
    // Priorities are advisory; this server does not reorder by them.
  }

  private onReset(id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (end - start !== 4) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM must be 4 bytes');
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (id > this.lastStreamId) this.fail(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on an idle stream');
      return;
    }
    const now = performance.now();
    this.resetTokens = Math.min(RESET_BURST, this.resetTokens + ((now - this.resetClock) / 1000) * RESET_RATE);
    this.resetClock = now;
    if (--this.resetTokens < 0) {
      this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'too many streams reset by the client');
      return;
    }
    this.closeStream(stream, CloseKind.PeerReset, readU32(buf, start), false);
  }

  private onSettings(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id !== 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    const length = end - start;
    if ((flags & Flag.ACK) !== 0) {
      if (length !== 0) this.fail(ErrorCode.FRAME_SIZE_ERROR, 'a SETTINGS acknowledgement with a payload');
      return;
    }
    if (length % 6 !== 0) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS length is not a multiple of 6');
    for (let at = start; at < end; at += 6) {
      const key = (buf[at]! << 8) | buf[at + 1]!;
      const value = readU32(buf, at + 2);
      switch (key) {
        case Setting.ENABLE_PUSH:
          if (value > 1) return this.fail(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH must be 0 or 1');
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1');
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          if (delta !== 0) {
            for (const stream of this.streams.values()) {
              stream.sendWindow += delta;
              if (stream.sendWindow > MAX_WINDOW) return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'a stream window grew above 2^31-1');
            }
            if (delta > 0) for (const stream of this.streams.values()) if (stream.pending !== undefined) this.pushData(stream);
          }
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_SIZE || value > LARGEST_MAX_FRAME_SIZE) {
            return this.fail(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_MAX_FRAME_SIZE out of range');
          }
          this.peerMaxFrame = value;
          break;
        default:
        // HEADER_TABLE_SIZE does not matter to an encoder that never indexes; the rest are advisory or unknown.
      }
    }
    if (this.floodCheck()) return;
    this.frameHead(0, FrameType.SETTINGS, Flag.ACK, 0);
  }

  private onPing(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id !== 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
    if (end - start !== 8) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'PING must be 8 bytes');
    if ((flags & Flag.ACK) !== 0) return;
    if (this.floodCheck()) return;
    this.frameHead(8, FrameType.PING, Flag.ACK, 0);
    this.bytes(buf.subarray(start, end));
  }

  private onGoaway(id: number, start: number, end: number): void {
    if (id !== 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (end - start < 8) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY shorter than 8 bytes');
    this.peerGoaway = true;
    if (this.streams.size === 0) this.finishSocket();
  }

  private onWindowUpdate(id: number, buf: Buffer, start: number, end: number): void {
    if (end - start !== 4) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE must be 4 bytes');
    const increment = readU32(buf, start) & 0x7fffffff;
    if (id === 0) {
      if (increment === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE with increment 0');
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW) return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'the connection window grew above 2^31-1');
      if (this.windowWaiters.size > 0) this.shareWindow();
      return;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (id > this.lastStreamId) this.fail(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE on an idle stream');
      return;
    }
    if (increment === 0) return this.resetStream(stream, ErrorCode.PROTOCOL_ERROR, CloseKind.LocalReset);
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) return this.resetStream(stream, ErrorCode.FLOW_CONTROL_ERROR, CloseKind.LocalReset);
    if (stream.pending !== undefined) this.pushData(stream);
  }

  // ----------------------------------------------------------- flow control

  /**
   * New connection window for the streams waiting on it, in turn: streams the
   * window did not reach this time go first next time, ahead of the one that
   * used it up, so a large body cannot hold a small one back.
   */
  private shareWindow(): void {
    const waiting = [...this.windowWaiters];
    this.windowWaiters.clear();
    let i = 0;
    while (i < waiting.length && this.sendWindow > 0) {
      const stream = waiting[i++]!;
      if (!stream.isClosed) this.pushData(stream);
    }
    if (i === waiting.length) return;
    const servedLast = [...this.windowWaiters];
    this.windowWaiters.clear();
    while (i < waiting.length) {
      const stream = waiting[i++]!;
      if (!stream.isClosed) this.windowWaiters.add(stream);
    }
    for (const stream of servedLast) this.windowWaiters.add(stream);
  }

  /** The owner read `n` bytes of `stream`'s body (or they were discarded): return them to the client's windows. */
  consumed(stream: H2Stream, n: number): void {
    if (!stream.remoteClosed) {
      stream.unacked += n;
      if (stream.unacked >= this.options.streamWindow >>> 1) {
        this.writeWindowUpdate(stream.id, stream.unacked);
        stream.recvWindow += stream.unacked;
        stream.unacked = 0;
        this.scheduleFlush();
      }
    }
    this.credit(n);
  }

  private credit(n: number): void {
    this.recvUnacked += n;
    if (this.recvUnacked >= this.options.connectionWindow >>> 1 && !this.dead) {
      this.writeWindowUpdate(0, this.recvUnacked);
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
      this.scheduleFlush();
    }
  }

  /** @internal Write as much of a stream's waiting body as the windows allow; then its end. */
  pushData(stream: H2Stream): void {
    const pending = stream.pending;
    if (pending === undefined || this.dead) return;
    let i = 0;
    while (i < pending.length) {
      const chunk = pending[i]!;
      const window = Math.min(stream.sendWindow, this.sendWindow);
      if (window <= 0 && chunk.byteLength > 0) {
        if (this.sendWindow <= 0) this.windowWaiters.add(stream);
        break;
      }
      // An empty chunk (the bare END_STREAM) may go out even when SETTINGS left the window negative.
      const n = chunk.byteLength === 0 ? 0 : Math.min(window, chunk.byteLength, this.peerMaxFrame);
      const lastBytes = n === chunk.byteLength && i === pending.length - 1;
      const endHere = lastBytes && stream.pendingEnd && stream.pendingTrailers === undefined;
      this.frameHead(n, FrameType.DATA, endHere ? Flag.END_STREAM : 0, stream.id);
      if (n === chunk.byteLength) {
        this.bytes(chunk);
        i++;
      } else {
        this.bytes(chunk.subarray(0, n));
        pending[i] = chunk.subarray(n);
      }
      stream.sendWindow -= n;
      this.sendWindow -= n;
      if (endHere) {
        stream.pending = undefined;
        this.localEnded(stream);
        this.scheduleFlush();
        return;
      }
    }
    if (i < pending.length) {
      if (i > 0) pending.splice(0, i);
      this.scheduleFlush();
      return;
    }
    stream.pending = undefined;
    if (stream.pendingEnd) {
      const trailers = stream.pendingTrailers;
      stream.pendingTrailers = undefined;
      if (trailers !== undefined) this.headerFrames(stream.id, trailers, true);
      else this.frameHead(0, FrameType.DATA, Flag.END_STREAM, stream.id);
      this.localEnded(stream);
    }
    this.scheduleFlush();
    stream.wake();
  }

  /** @internal */
  waitForOutput(stream: H2Stream): void {
    if (stream.pending === undefined) this.outputWaiters.add(stream);
  }

  // -------------------------------------------------------- stream states

  /** @internal */
  writeHeaders(stream: H2Stream, block: Buffer, end: boolean): void {
    if (this.dead) return;
    this.headerFrames(stream.id, block, end);
    this.scheduleFlush();
    if (end) this.localEnded(stream);
  }

  private headerFrames(id: number, block: Buffer, end: boolean): void {
    const max = this.peerMaxFrame;
    if (block.length <= max) {
      this.frameHead(block.length, FrameType.HEADERS, Flag.END_HEADERS | (end ? Flag.END_STREAM : 0), id);
      this.bytes(block);
      return;
    }
    this.frameHead(max, FrameType.HEADERS, end ? Flag.END_STREAM : 0, id);
    this.bytes(block.subarray(0, max));
    for (let at = max; at < block.length; at += max) {
      const n = Math.min(max, block.length - at);
      this.frameHead(n, FrameType.CONTINUATION, at + n === block.length ? Flag.END_HEADERS : 0, id);
      this.bytes(block.subarray(at, at + n));
    }
  }

  private remoteEnded(stream: H2Stream): void {
    stream.remoteClosed = stream.finReceived = true;
    if (stream.localClosed) this.closeStream(stream, CloseKind.Done, 0, false);
  }

  private localEnded(stream: H2Stream): void {
    stream.localClosed = stream.endSent = true;
    stream.ended();
    if (stream.remoteClosed) this.closeStream(stream, CloseKind.Done, 0, false);
  }

  /** @internal RST_STREAM from this side. */
  resetStream(stream: H2Stream, code: number, kind: CloseKind): void {
    if (stream.isClosed) return;
    this.writeReset(stream.id, code);
    this.closeStream(stream, kind, code, true);
  }

  private closeStream(stream: H2Stream, kind: CloseKind, code: number, byUs: boolean): void {
    if (stream.isClosed) return;
    stream.isClosed = true;
    stream.remoteClosed = true;
    stream.localClosed = true;
    stream.pending = undefined;
    stream.pendingTrailers = undefined;
    this.streams.delete(stream.id);
    this.windowWaiters.delete(stream);
    this.outputWaiters.delete(stream);
    this.remember(stream.id, byUs);
    // Body bytes still unread go back to the connection window now (a complete body stays readable).
    let unread = 0;
    for (let i = stream.inboundHead; i < stream.inbound.length; i++) unread += stream.inbound[i]!.byteLength;
    if (kind !== CloseKind.Done) {
      stream.inbound.length = 0;
      stream.inboundHead = 0;
    }
    if (unread > 0) this.credit(unread);
    if (this.streams.size === 0) {
      this.idleSince = performance.now();
      if (this.goawaySent || this.peerGoaway) this.finishSocket();
    }
    stream.wake();
    try {
      stream.closed(kind, code);
    } catch {
      // As for started(): the stream is gone either way, and the caller may be the frame loop or abortAll().
    }
  }

  private remember(id: number, byUs: boolean): void {
    const at = this.recentNext;
    this.recentIds[at] = id;
    this.recentByUs[at] = byUs ? 1 : 0;
    this.recentNext = (at + 1) % RECENT;
  }

  private recentIndex(id: number): number {
    for (let i = 0; i < RECENT; i++) if (this.recentIds[i] === id) return i;
    return -1;
  }

  private resetByUs(id: number): boolean {
    const at = this.recentIndex(id);
    return at >= 0 && this.recentByUs[at] === 1;
  }

  // ------------------------------------------------------------- output

  private reserve(n: number): void {
    if (this.slab.length - this.slabEnd >= n) return;
    this.cutSlab();
    this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, n));
    this.slabStart = this.slabEnd = 0;
  }

  private cutSlab(): void {
    if (this.slabEnd > this.slabStart) {
      this.queue.push(this.slab.subarray(this.slabStart, this.slabEnd));
      this.queuedBytes += this.slabEnd - this.slabStart;
      this.slabStart = this.slabEnd;
    }
  }

  private frameHead(length: number, type: number, flags: number, id: number): void {
    this.reserve(FRAME_HEADER_BYTES);
    const b = this.slab;
    let at = this.slabEnd;
    b[at++] = length >>> 16;
    b[at++] = (length >>> 8) & 0xff;
    b[at++] = length & 0xff;
    b[at++] = type;
    b[at++] = flags;
    b[at++] = id >>> 24;
    b[at++] = (id >>> 16) & 0xff;
    b[at++] = (id >>> 8) & 0xff;
    b[at++] = id & 0xff;
    this.slabEnd = at;
  }

  private bytes(payload: Uint8Array): void {
    const n = payload.byteLength;
    if (n === 0) return;
    if (n <= COPY_LIMIT) {
      this.reserve(n);
      this.slab.set(payload, this.slabEnd);
      this.slabEnd += n;
      return;
    }
    this.cutSlab();
    this.queue.push(payload);
    this.queuedBytes += n;
  }

  private writeSettings(): void {
    const o = this.options;
    const entries: [number, number][] = [
      [Setting.MAX_CONCURRENT_STREAMS, o.maxConcurrentStreams],
      [Setting.INITIAL_WINDOW_SIZE, o.streamWindow],
      [Setting.MAX_HEADER_LIST_SIZE, o.advertisedHeaderListSize ?? o.maxHeaderListSize],
      [Setting.ENABLE_PUSH, 0],
    ];
    this.frameHead(entries.length * 6, FrameType.SETTINGS, 0, 0);
    this.reserve(entries.length * 6);
    for (const [key, value] of entries) {
      this.slab.writeUInt16BE(key, this.slabEnd);
      this.slab.writeUInt32BE(value >>> 0, this.slabEnd + 2);
      this.slabEnd += 6;
    }
  }

  private writeWindowUpdate(id: number, increment: number): void {
    this.frameHead(4, FrameType.WINDOW_UPDATE, 0, id);
    this.reserve(4);
    this.slab.writeUInt32BE(increment, this.slabEnd);
    this.slabEnd += 4;
  }

  private writeReset(id: number, code: number): void {
    if (this.dead || this.floodCheck()) return;
    this.frameHead(4, FrameType.RST_STREAM, 0, id);
    this.reserve(4);
    this.slab.writeUInt32BE(code, this.slabEnd);
    this.slabEnd += 4;
    this.scheduleFlush();
  }

  private writeGoaway(code: number, debug: string): void {
    const text = Buffer.from(debug.slice(0, 256), 'utf8');
    this.frameHead(8 + text.length, FrameType.GOAWAY, 0, 0);
    this.reserve(8);
    this.slab.writeUInt32BE(this.lastStreamId, this.slabEnd);
    this.slab.writeUInt32BE(code, this.slabEnd + 4);
    this.slabEnd += 8;
    this.bytes(text);
  }

  /**
   * Replies to control frames pile up while the client does not read: that is
   * a flood. Response DATA waiting in the socket does not count (the windows
   * the client granted and the handlers' backpressure bound it).
   */
  private floodCheck(): boolean {
    if (!this.blocked || ++this.blockedReplies < MAX_BLOCKED_REPLIES) return false;
    this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'the client sends control frames faster than it reads the replies');
    return true;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(flushLater, this);
  }

  /** @internal Write everything gathered so far. */
  flush(): void {
    this.flushScheduled = false;
    this.cutSlab();
    const queue = this.queue;
    if (queue.length === 0) return;
    this.queue = [];
    this.queuedBytes = 0;
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return;
    let ok: boolean;
    if (queue.length === 1) ok = socket.write(queue[0]!);
    else {
      socket.cork();
      for (let i = 0; i < queue.length - 1; i++) socket.write(queue[i]!);
      ok = socket.write(queue[queue.length - 1]!);
      socket.uncork();
    }
    if (!ok) this.blocked = true;
    else if (this.outputWaiters.size > 0) this.wakeWriters();
  }

  private onDrain(): void {
    this.blocked = false;
    this.blockedReplies = 0;
    if (this.outputWaiters.size > 0) this.wakeWriters();
  }

  private wakeWriters(): void {
    const waiting = [...this.outputWaiters];
    this.outputWaiters.clear();
    for (const stream of waiting) stream.wake();
  }

  // ----------------------------------------------------------- lifecycle

  /** Stop taking new streams (GOAWAY NO_ERROR); the connection closes when the open ones are done. */
  close(): void {
    if (this.goawaySent || this.dead) return;
    this.goawaySent = true;
    this.writeGoaway(ErrorCode.NO_ERROR, '');
    this.flush();
    if (this.streams.size === 0) this.finishSocket();
  }

  /** Drop the connection now; open streams end as disconnected. */
  destroy(): void {
    this.dead = true;
    this.socket.destroy();
    this.abortAll();
  }

  /** A connection error: GOAWAY with `code`, then the connection ends. */
  fail(code: number, reason: string): void {
    if (this.dead) return;
    this.options.onProtocolError?.(code, reason);
    this.writeGoaway(code, reason);
    this.goawaySent = true;
    this.flush();
    this.dead = true;
    this.abortAll();
    this.socket.end();
    const force = setTimeout(destroySocket, 2000, this.socket);
    force.unref();
  }

  /**
   * End the socket once everything written has gone out. A client reading a
   * large response slowly keeps the connection as long as it makes progress;
   * one that stops reading, or does not close its side once all is out, is
   * dropped (see lingerCheck).
   */
  private finishSocket(): void {
    this.flush();
    const socket = this.socket;
    if (socket.destroyed || this.lingerTimer !== undefined) return;
    socket.end();
    this.lingerTimer = setTimeout(lingerCheck, LINGER_MS, this);
    this.lingerTimer.unref();
  }

  /** @internal the closing socket's timer */
  lingerCheck(): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    const pending = socket.writableLength;
    const last = this.lingerPending;
    this.lingerPending = pending;
    if (pending === 0 ? last === 0 : pending >= last && ++this.lingerStalls >= LINGER_STALLS) {
      socket.destroy();
      return;
    }
    if (pending < last) this.lingerStalls = 0;
    this.lingerTimer = setTimeout(lingerCheck, LINGER_MS, this);
    this.lingerTimer.unref();
  }

  /** @internal the idle timer */
  checkIdle(): void {
    this.idleTimer = undefined;
    if (this.dead) return;
    const ms = this.options.idleTimeoutMs;
    let wait = ms;
    if (this.streams.size === 0 && this.idleSince > 0) {
      const elapsed = performance.now() - this.idleSince;
      if (elapsed >= ms) {
        this.close();
        return;
      }
      wait = ms - elapsed;
    }
    this.idleTimer = setTimeout(checkIdle, Math.max(1, Math.ceil(wait)), this);
    this.idleTimer.unref();
  }

  private abortAll(): void {
    if (this.idleTimer !== undefined) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    for (const stream of [...this.streams.values()]) this.closeStream(stream, CloseKind.Disconnected, 0, false);
    this.windowWaiters.clear();
    this.outputWaiters.clear();
  }

  private onSocketClose(): void {
    this.dead = true;
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.abortAll();
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of waiters) w();
  }
}

function flushLater(connection: H2Connection): void {
  connection.flush();
}

function checkIdle(connection: H2Connection): void {
  connection.checkIdle();
}

function lingerCheck(connection: H2Connection): void {
  connection.lingerCheck();
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}
