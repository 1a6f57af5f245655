/** Hand-built client frames (RFC 6455 section 5.2) for sending what the ws client never would. */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { handshakeHeaders } from './clients.js';

export const Opcode = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface FrameOptions {
  readonly fin?: boolean;
  readonly mask?: boolean;
  /** Length to announce in the header (defaults to the payload length). */
  readonly declaredLength?: number;
}

export function frame(opcode: number, payload: Uint8Array, options: FrameOptions = {}): Buffer {
  const fin = options.fin ?? true;
  const mask = options.mask ?? true;
  const length = options.declaredLength ?? payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  const m = mask ? 0x80 : 0;
  if (length < 126) head.push(m | length);
  else if (length < 65536) head.push(m | 126, length >> 8, length & 0xff);
  else {
    head.push(m | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(length));
    head.push(...big);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] = masked[i]! ^ key[i % 4]!;
  return Buffer.concat([Buffer.from(head), key, masked]);
}

/** Complete a handshake over plain HTTP and return the raw socket. */
export async function rawConnect(port: number, path: string): Promise<Socket> {
  const req = request({ host: '127.0.0.1', port, path, headers: handshakeHeaders(), agent: false });
  req.end();
  const [res, socket] = (await once(req, 'upgrade')) as [IncomingMessage, Socket];
  if (res.statusCode !== 101) throw new Error(`expected 101, got ${res.statusCode}`);
  socket.on('error', () => {});
  return socket;
}

/** Read server frames from a raw socket until a close frame; returns its code (1006 when the socket ended without one). */
export async function serverCloseCode(socket: Socket): Promise<number> {
  let buffered = Buffer.alloc(0);
  return await new Promise<number>((resolve) => {
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const opcode = buffered[0]! & 0x0f;
        let len = buffered[1]! & 0x7f;
        let offset = 2;
        if (len === 126) {
          if (buffered.length < 4) return;
          len = buffered.readUInt16BE(2);
          offset = 4;
        } else if (len === 127) {
          if (buffered.length < 10) return;
          len = Number(buffered.readBigUInt64BE(2));
          offset = 10;
        }
        if (buffered.length < offset + len) return;
        const payload = buffered.subarray(offset, offset + len);
        buffered = buffered.subarray(offset + len);
        if (opcode === Opcode.close) {
          socket.off('data', onData);
          resolve(payload.length >= 2 ? payload.readUInt16BE(0) : 1005);
          return;
        }
      }
    };
    socket.on('data', onData);
    socket.once('close', () => resolve(1006));
  });
}
