/** Shared pieces of the gRPC server tests: an Echo service and a raw HTTP/2 gRPC client. */
import http2 from 'node:http2';
import protobuf from 'protobufjs';
import { encodeFrame, FrameDecoder, type Frame } from '../../src/grpc/index.js';

export const ECHO_PROTO = `
syntax = "proto3";
package test;
message Msg { string text = 1; bytes data = 2; int32 n = 3; }
service Echo {
  rpc Unary (Msg) returns (Msg);
  rpc ServerStream (Msg) returns (stream Msg);
  rpc ClientStream (stream Msg) returns (Msg);
  rpc Bidi (stream Msg) returns (stream Msg);
}
`;

export function echoRoot(): protobuf.Root {
  const root = protobuf.parse(ECHO_PROTO, { keepCase: false }).root;
  root.resolveAll();
  return root;
}

export const root = echoRoot();
export const Msg = root.lookupType('test.Msg');
export const EchoService = root.lookupService('test.Echo');

export interface EchoMsg {
  text?: string;
  data?: Uint8Array;
  n?: number;
}

export function msg(m: EchoMsg): Uint8Array {
  return encodeFrame(Msg.encode(Msg.fromObject(m)).finish());
}

export function decodeMsgs(frames: Frame[]): EchoMsg[] {
  return frames.map((f) => Msg.toObject(Msg.decode(f.payload), { defaults: true }) as EchoMsg);
}

export interface RawResult {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  readonly trailers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
  /** grpc-status from the trailers, or from the headers for a Trailers-Only response. */
  readonly grpcStatus: number | undefined;
  readonly grpcMessage: string | undefined;
  readonly frames: Frame[];
  readonly rstCode: number;
}

export interface RawOptions {
  readonly headers?: http2.OutgoingHttpHeaders;
  /** Request body pieces, each written as it is (several DATA frames). */
  readonly body?: readonly Uint8Array[];
  /** Leave the request open (no END_STREAM) after writing the body. */
  readonly keepOpen?: boolean;
}

/** One gRPC call over an existing HTTP/2 session, with full control over headers and bytes. */
export function rawCall(session: http2.ClientHttp2Session, path: string, options: RawOptions = {}): Promise<RawResult> & { stream: http2.ClientHttp2Stream } {
  const stream = session.request({
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...options.headers,
  });
  const p = new Promise<RawResult>((resolve, reject) => {
    let status = 0;
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      headers = h;
      status = Number(h[':status']);
    });
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      const body = Buffer.concat(chunks);
      const frames: Frame[] = [];
      if (String(headers['content-type'] ?? '').startsWith('application/grpc')) {
        try {
          const d = new FrameDecoder(1 << 30, (f) => frames.push(f));
          d.push(body);
        } catch (e) {
          reject(e);
          return;
        }
      }
      const src = trailers['grpc-status'] !== undefined ? trailers : headers;
      const gs = src['grpc-status'];
      const gm = src['grpc-message'];
      resolve({
        status,
        headers,
        trailers,
        body,
        grpcStatus: gs === undefined ? undefined : Number(gs),
        grpcMessage: typeof gm === 'string' ? gm : undefined,
        frames,
        rstCode: stream.rstCode ?? 0,
      });
    });
  });
  for (const piece of options.body ?? []) stream.write(piece);
  if (!options.keepOpen) stream.end();
  return Object.assign(p, { stream });
}

export function connect(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * Close a client session; destroy it if a graceful close stalls (a client that
 * still has request bytes queued for streams the server refused never drains).
 */
export function closeSession(s: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => {
    if (s.closed || s.destroyed) return resolve();
    const t = setTimeout(() => {
      s.destroy();
      resolve();
    }, 500);
    s.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    s.close();
  });
}

export async function waitFor(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`${what} not reached`);
}
