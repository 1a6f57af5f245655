/**
 * On Http.sys the upgraded connection is a plain stream.Duplex (no setTimeout,
 * setNoDelay or other net.Socket methods, half-open allowed). These tests hand
 * ws such a stream, layered over the real connection, and drive it with the
 * real ws client.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import { acceptWebSocket, type WebSocket } from '../../src/index.js';
import type { Handler } from '../../src/transport/types.js';
import { startServer, type TestServer } from './helpers/server.js';
import { openClient, type Closed } from './helpers/clients.js';

/** A Duplex that only forwards bytes, like an opaque Http.sys stream; `autoDestroy` as given. */
function plainDuplexOver(socket: Duplex, autoDestroy: boolean): Duplex {
  const plain = new Duplex({
    allowHalfOpen: true,
    autoDestroy,
    read(): void {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback): void {
      socket.write(chunk, (err) => callback(err ?? null));
    },
    final(callback): void {
      socket.end();
      callback();
    },
    destroy(err, callback): void {
      socket.destroy();
      callback(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (!plain.push(chunk)) socket.pause();
  });
  let ended = false;
  const endReadable = (): void => {
    if (ended) return;
    ended = true;
    plain.push(null);
  };
  socket.on('end', endReadable);
  socket.on('error', () => {});
  // Without autoDestroy nothing but the consumer destroys the stream: the
  // connection going away only ends its readable side.
  socket.on('close', () => (autoDestroy ? plain.destroy() : endReadable()));
  return plain;
}

interface Seen {
  readonly stream: Duplex;
  readonly closed: Promise<Closed>;
}
const seen: Seen[] = [];

function plainHandler(path: string, autoDestroy: boolean): Handler {
  return (request) => {
    if (request.path !== path) return undefined;
    let stream: Duplex | undefined;
    const answer = acceptWebSocket(request, {
      perMessageDeflate: true,
      onConnection: (ws: WebSocket) => {
        seen.push({
          stream: stream!,
          closed: new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
        });
        ws.on('message', (data, isBinary) => {
          if (!isBinary && data.toString() === 'bye') ws.close(4003, 'plain bye');
          else ws.send(data, { binary: isBinary });
        });
      },
    });
    if (!('upgrade' in answer)) return answer;
    return {
      ...answer,
      upgrade: (socket: Duplex) => {
        stream = plainDuplexOver(socket, autoDestroy);
        answer.upgrade(stream);
      },
    };
  };
}

let server: TestServer;
before(async () => {
  server = await startServer([plainHandler('/plain', true), plainHandler('/plain-no-autodestroy', false)]);
});
after(async () => {
  await server.close();
});

for (const path of ['/plain', '/plain-no-autodestroy']) {
  test(`echo, 16 MiB, compression and close codes over a plain Duplex (${path})`, async () => {
    const c = await openClient(`ws://127.0.0.1:${server.port}${path}`, [], { perMessageDeflate: true });
    assert.match(c.ws.extensions, /permessage-deflate/);
    c.ws.send('text over a plain stream');
    assert.equal((await c.messages.next()).data.toString(), 'text over a plain stream');
    const big = randomBytes(16 * 1024 * 1024);
    c.ws.send(big);
    assert.ok((await c.messages.next()).data.equals(big));
    const pong = once(c.ws, 'pong');
    c.ws.ping('p');
    assert.equal(((await pong)[0] as Buffer).toString(), 'p');
    const side = seen.at(-1)!;
    c.ws.send('bye');
    assert.deepEqual(await c.closed, { code: 4003, reason: 'plain bye' });
    assert.equal((await side.closed).code, 4003);
    if (!side.stream.destroyed) await once(side.stream, 'close');
    assert.equal(side.stream.destroyed, true);
  });

  test(`a client closing first and a client vanishing both release the plain Duplex (${path})`, async () => {
    const polite = await openClient(`ws://127.0.0.1:${server.port}${path}`);
    const politeSide = seen.at(-1)!;
    polite.ws.close(4004, 'client bye');
    assert.deepEqual(await politeSide.closed, { code: 4004, reason: 'client bye' });
    if (!politeSide.stream.destroyed) await once(politeSide.stream, 'close');

    const rude = await openClient(`ws://127.0.0.1:${server.port}${path}`);
    const rudeSide = seen.at(-1)!;
    rude.ws.send(randomBytes(1024 * 1024));
    rude.ws.terminate();
    assert.equal((await rudeSide.closed).code, 1006);
    if (!rudeSide.stream.destroyed) await once(rudeSide.stream, 'close');
    assert.equal(rudeSide.stream.destroyed, true);
  });
}
