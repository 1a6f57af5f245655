/**
 * The ceiling: a bare node:http2 responder that answers each Bench call with
 * precomputed gRPC frames and a fixed OK status. It parses nothing it does
 * not have to (only the frame prefixes of ping-pong messages and the one
 * ServerStream request), so it shows what node:http2 itself costs.
 */
import http2 from 'node:http2';
import { FrameCounter, PATHS, SMALL_BODY_BYTES, bodyOf, decodeStreamRequest, encodePayload, frame } from '../schema.js';
import { listenOnLoopback, type StartedServer } from './types.js';

const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc' } as const;
const OK_TRAILERS = { 'grpc-status': '0' } as const;
const SMALL_REPLY = frame(encodePayload({ body: bodyOf(SMALL_BODY_BYTES) }));

function sendTrailersWhenAsked(stream: http2.ServerHttp2Stream): void {
  stream.once('wantTrailers', () => stream.sendTrailers(OK_TRAILERS));
}

function unary(stream: http2.ServerHttp2Stream): void {
  stream.on('data', () => {});
  stream.once('end', () => {
    if (stream.destroyed) return;
    stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    sendTrailersWhenAsked(stream);
    stream.end(SMALL_REPLY);
  });
}

function serverStream(stream: http2.ServerHttp2Stream): void {
  const parts: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => parts.push(chunk));
  stream.once('end', () => {
    if (stream.destroyed) return;
    const request = Buffer.concat(parts);
    const { count, size } = decodeStreamRequest(request.subarray(5));
    const message = frame(encodePayload({ body: bodyOf(size) }));
    stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    sendTrailersWhenAsked(stream);
    let sent = 0;
    const pump = (): void => {
      while (sent < count) {
        if (stream.destroyed) return;
        sent++;
        if (!stream.write(message)) {
          stream.once('drain', pump);
          return;
        }
      }
      stream.end();
    };
    pump();
  });
}

function pingPong(stream: http2.ServerHttp2Stream): void {
  const counter = new FrameCounter();
  stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
  sendTrailersWhenAsked(stream);
  stream.on('data', (chunk: Buffer) => {
    for (let n = counter.push(chunk); n > 0; n--) stream.write(SMALL_REPLY);
  });
  stream.once('end', () => {
    if (!stream.destroyed) stream.end();
  });
}

export async function start(): Promise<StartedServer> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    switch (headers[':path']) {
      case PATHS.unary:
        return unary(stream);
      case PATHS.serverStream:
        return serverStream(stream);
      case PATHS.pingPong:
        return pingPong(stream);
      default:
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
    }
  });
  return listenOnLoopback(server);
}
