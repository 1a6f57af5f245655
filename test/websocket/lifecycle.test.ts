import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { webSocketHandler, type WebSocket } from '../../src/index.js';
import { startServer } from './helpers/server.js';
import { openClient, type Closed } from './helpers/clients.js';
import { frame, Opcode, rawConnect } from './helpers/frames.js';

function echo(ws: WebSocket): void {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

/** Resolves once the queue reports no exchange in flight and no open connection. */
async function drained(stats: () => { inFlight: number; connections?: number }): Promise<void> {
  // Socket and exchange bookkeeping settles within a few event-loop turns after 'close'.
  for (let i = 0; i < 1000; i++) {
    const s = stats();
    if (s.inFlight === 0 && (s.connections ?? 0) === 0) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.deepEqual(stats(), { inFlight: 0, connections: 0 });
}

test('connections that end, normally or abruptly, release their exchange and socket', async () => {
  const serverCloses: Promise<Closed>[] = [];
  const server = await startServer([
    webSocketHandler(
      (ws) => {
        echo(ws);
        serverCloses.push(new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))));
      },
      { path: '/echo' },
    ),
  ]);
  try {
    const url = `ws://127.0.0.1:${server.port}/echo`;
    const clean = await openClient(url);
    assert.equal(server.queue.stats().inFlight, 1);
    clean.ws.close(1000);
    await clean.closed;

    const vanishing = await rawConnect(server.port, '/echo');
    vanishing.write(frame(Opcode.binary, randomBytes(512), { declaredLength: 4 * 1024 * 1024 }));
    vanishing.destroy();

    const terminated = await openClient(url);
    terminated.ws.send(randomBytes(4 * 1024 * 1024));
    terminated.ws.terminate();

    while (serverCloses.length < 3) await new Promise((resolve) => setImmediate(resolve));
    const codes = (await Promise.all(serverCloses)).map((c) => c.code);
    assert.deepEqual(codes, [1000, 1006, 1006]);
    await drained(() => server.queue.stats());
  } finally {
    await server.close();
  }
});

test('closing the queue closes open WebSockets as "going away" and resolves', async () => {
  const server = await startServer([webSocketHandler(echo, { path: '/echo' })]);
  const url = `ws://127.0.0.1:${server.port}/echo`;
  const clients = await Promise.all([openClient(url), openClient(url)]);
  for (const c of clients) {
    c.ws.send('x');
    await c.messages.next();
  }
  await server.close();
  for (const c of clients) {
    const closed = await c.closed;
    // The close frame is written before the transport drops the connection.
    assert.deepEqual(closed, { code: 1001, reason: 'server shutting down' });
  }
});

test('during a graceful close open WebSockets keep working until the deadline', async () => {
  const server = await startServer([webSocketHandler(echo, { path: '/echo' })]);
  const c = await openClient(`ws://127.0.0.1:${server.port}/echo`);
  const closing = server.queue.close({ graceful: 60_000 });
  c.ws.send('during shutdown');
  assert.equal((await c.messages.next()).data.toString(), 'during shutdown');
  c.ws.close(1000, 'done');
  assert.equal((await c.closed).code, 1000);
  await closing;
  const refused = new (await import('ws')).WebSocket(`ws://127.0.0.1:${server.port}/echo`);
  const [err] = (await once(refused, 'error')) as [Error];
  assert.match(err.message, /ECONNREFUSED|503|socket hang up/);
});
