/**
 * The Http.sys response sink's decisions on a Windows Server 2022 host: which
 * sends it issues, with which flags and chunks, and what a failed send does to
 * the exchange. Checked against a recording queue; Http.sys itself is exercised
 * by the Wine and Windows tiers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NativeBodyChunk, NativeResponse } from '../../src/native/types.js';
import { ClientDisconnectedError, QueueClosedError } from '../../src/transport/errors.js';
import { ExchangeResetError } from '../../src/transport/httpsys/errors.js';
import { lastChunk } from '../../src/transport/httpsys/response-headers.js';
import { windows2022 } from './hosts.js';
import { recordedExchange, turn, win32Error } from './recording-queue.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function names(flat: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (let i = 0; i < (flat?.length ?? 0); i += 2) out.push(flat![i]!);
  return out;
}

/** Settles the one pending call of `kind` successfully and lets the sink continue. */
async function complete(queue: ReturnType<typeof recordedExchange>['queue'], kind: 'sendResponse' | 'sendBody'): Promise<void> {
  const pending = queue.unsettled(kind);
  assert.equal(pending.length, 1, `one pending ${kind}`);
  pending[0]!.resolve!();
  await turn();
}

test('HTTP/2 response without messages but with trailers: head with MORE_DATA, then one final send carrying only the trailers', async () => {
  const { queue, exchange, settled } = recordedExchange(windows2022, { http2: true });
  const sink = exchange.response;
  const head = sink.head(200, 'OK', [['content-type', 'application/grpc']], false, true);
  await turn();
  const sent = queue.of('sendResponse')[0]!.arg as NativeResponse;
  assert.equal(sent.moreData, true);
  assert.equal(sent.reason, undefined);
  assert.deepEqual(names(sent.headers), ['content-type']);
  await complete(queue, 'sendResponse');
  await head;
  const end = sink.end([['grpc-status', '0'], ['grpc-message', '']]);
  await turn();
  const last = queue.of('sendBody')[0]!.arg as NativeBodyChunk;
  assert.deepEqual(last, { trailers: ['grpc-status', '0', 'grpc-message', ''], moreData: false });
  await complete(queue, 'sendBody');
  await end;
  assert.equal(settled.length, 1);
  assert.equal(queue.of('cancel').length + queue.of('reset').length, 0);
});

test('HTTP/2 streamed body: every send before the last keeps MORE_DATA, trailers only on the last', async () => {
  const { queue, exchange } = recordedExchange(windows2022, { http2: true });
  const sink = exchange.response;
  const head = sink.head(200, undefined, [['content-type', 'application/grpc'], ['transfer-encoding', 'chunked']], false, true);
  await complete(queue, 'sendResponse');
  await head;
  assert.deepEqual(names((queue.of('sendResponse')[0]!.arg as NativeResponse).headers), ['content-type']);
  for (const piece of ['a', 'bb', 'ccc']) await sink.write(text(piece));
  for (const call of queue.unsettled('sendBody')) call.resolve!();
  await turn();
  const end = sink.end([['grpc-status', '0']]);
  await turn();
  const bodies = queue.of('sendBody').map((c) => c.arg as NativeBodyChunk);
  assert.equal(bodies.length, 4);
  for (const b of bodies.slice(0, 3)) {
    assert.equal(b.moreData, true);
    assert.equal(b.trailers, undefined);
    assert.equal(b.body?.length, 1, 'no chunk framing on HTTP/2');
  }
  assert.deepEqual(bodies[3], { trailers: ['grpc-status', '0'], moreData: false });
  await complete(queue, 'sendBody');
  await end;
});

test('HTTP/1.1 streamed body without a length is chunk-framed; trailers are not sent', async () => {
  const { queue, exchange } = recordedExchange(windows2022);
  const sink = exchange.response;
  assert.equal(exchange.request.capabilities.trailers, false);
  const head = sink.head(200, 'OK', [['content-type', 'text/plain']], false);
  await complete(queue, 'sendResponse');
  await head;
  const sentHead = queue.of('sendResponse')[0]!.arg as NativeResponse;
  assert.equal(sentHead.reason, 'OK');
  assert.deepEqual(sentHead.headers, ['content-type', 'text/plain', 'transfer-encoding', 'chunked']);
  await sink.write(text('hello'));
  const framed = (queue.of('sendBody')[0]!.arg as NativeBodyChunk).body!;
  assert.equal(new TextDecoder().decode(Buffer.concat(framed.map((c) => Buffer.from(c)))), '5\r\nhello\r\n');
  await complete(queue, 'sendBody');
  const end = sink.end([['x-t', '1']]);
  await turn();
  assert.deepEqual(queue.of('sendBody')[1]!.arg, { body: [lastChunk()], moreData: false });
  await complete(queue, 'sendBody');
  await end;
});

test('HTTP/1.0 streamed body without a length ends by closing the connection', async () => {
  const { queue, exchange } = recordedExchange(windows2022, { httpVersion: '1.0', method: 'GET' });
  const sink = exchange.response;
  const head = sink.head(200, undefined, [['transfer-encoding', 'chunked']], false);
  await complete(queue, 'sendResponse');
  await head;
  assert.deepEqual((queue.of('sendResponse')[0]!.arg as NativeResponse).headers, ['connection', 'close']);
  await sink.write(text('raw'));
  assert.deepEqual((queue.of('sendBody')[0]!.arg as NativeBodyChunk).body, [text('raw')]);
  await complete(queue, 'sendBody');
  const end = sink.end(undefined);
  await turn();
  assert.deepEqual(queue.of('sendBody')[1]!.arg, { moreData: false, disconnect: true });
  await complete(queue, 'sendBody');
  await end;
});

test('HEAD, 204 and 304 on HTTP/1.1: the head is the final send, writes send nothing, end only settles', async () => {
  for (const [method, status] of [['HEAD', 200], ['GET', 204], ['GET', 304]] as const) {
    const { queue, exchange, settled } = recordedExchange(windows2022, { method });
    const sink = exchange.response;
    const head = sink.head(status, undefined, [['content-length', '42']], false);
    await complete(queue, 'sendResponse');
    await head;
    const sent = queue.of('sendResponse')[0]!.arg as NativeResponse;
    assert.equal(sent.moreData, false, `${method} ${status}`);
    assert.deepEqual(sent.headers, status === 204 ? [] : ['content-length', '42']);
    await sink.write(text('ignored'));
    assert.equal(settled.length, 0);
    await sink.end(undefined);
    assert.equal(queue.calls.length, 1, 'nothing after the head');
    assert.equal(settled.length, 1);
    exchange.abort(new Error('late'));
    assert.equal(queue.of('cancel').length, 0, 'a complete response is not cancelled');
  }
});

test('HEAD on HTTP/2 keeps MORE_DATA so trailers can still follow', async () => {
  const { queue, exchange } = recordedExchange(windows2022, { method: 'HEAD', http2: true });
  const head = exchange.response.head(200, undefined, [], false, true);
  await complete(queue, 'sendResponse');
  await head;
  assert.equal((queue.of('sendResponse')[0]!.arg as NativeResponse).moreData, true);
  const end = exchange.response.end([['grpc-status', '0']]);
  await turn();
  assert.deepEqual(queue.of('sendBody')[0]!.arg, { trailers: ['grpc-status', '0'], moreData: false });
  await complete(queue, 'sendBody');
  await end;
});

test('sends in flight are bounded, issued in order, and a write waits for the oldest', async () => {
  const { queue, exchange } = recordedExchange(windows2022, { http2: true, maxSendsInFlight: 2 });
  const sink = exchange.response;
  const head = sink.head(200, undefined, [], false);
  await complete(queue, 'sendResponse');
  await head;
  await sink.write(text('1'));
  let secondDone = false;
  const second = Promise.resolve(sink.write(text('2'))).then(() => {
    secondDone = true;
  });
  await turn();
  assert.equal(queue.unsettled('sendBody').length, 2);
  assert.equal(secondDone, false, 'the second write waits while two sends are in flight');
  queue.unsettled('sendBody')[0]!.resolve!();
  await second;
  assert.deepEqual(
    queue.of('sendBody').map((c) => new TextDecoder().decode((c.arg as NativeBodyChunk).body![0])),
    ['1', '2'],
  );
});

test('client gone with sends pending: the signal says so, writes fail, nothing is cancelled, nothing is left unhandled', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    const { queue, exchange, settled } = recordedExchange(windows2022, { http2: true, maxSendsInFlight: 2 });
    const sink = exchange.response;
    const signal = exchange.request.signal;
    const head = sink.head(200, undefined, [], false, true);
    await complete(queue, 'sendResponse');
    await head;
    await sink.write(text('1'));
    const blocked = Promise.resolve(sink.write(text('2')));
    await turn();
    for (const [i, code] of [64, 1229].entries()) {
      queue.unsettled('sendBody')[0]!.reject!(win32Error('HttpSendResponseEntityBody', code, i === 0 ? 'ERROR_NETNAME_DELETED' : 'ERROR_CONNECTION_INVALID'));
    }
    await assert.rejects(blocked);
    assert.equal(signal.aborted, true);
    assert.ok(signal.reason instanceof ClientDisconnectedError);
    await assert.rejects(Promise.resolve(sink.end([['grpc-status', '0']])));
    assert.equal(queue.of('cancel').length, 0);
    assert.equal(queue.of('reset').length, 0);
    assert.equal(settled.length, 1);
    await turn();
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('a send refused synchronously by the addon fails the write and aborts the exchange', async () => {
  const { queue, exchange, settled } = recordedExchange(windows2022, { http2: true });
  const sink = exchange.response;
  const head = sink.head(200, undefined, [], false);
  await complete(queue, 'sendResponse');
  await head;
  queue.throwNext.set('sendBody', win32Error('HttpSendResponseEntityBody', 6, 'ERROR_INVALID_HANDLE'));
  await assert.rejects(Promise.resolve(sink.write(text('x'))), { name: 'HttpSysError' });
  assert.equal(exchange.request.signal.aborted, true);
  assert.equal(settled.length, 1);
});

test('reset: RST_STREAM with the code on HTTP/2, a cancel (connection dropped) on HTTP/1.1', async () => {
  const h2 = recordedExchange(windows2022, { http2: true });
  assert.equal(h2.exchange.request.capabilities.reset, true);
  const signal = h2.exchange.request.signal;
  h2.exchange.response.reset(8);
  assert.deepEqual(h2.queue.of('reset').map((c) => c.arg), [8]);
  assert.equal(h2.queue.of('cancel').length, 0);
  assert.ok(signal.reason instanceof ExchangeResetError);

  const h1 = recordedExchange(windows2022);
  assert.equal(h1.exchange.request.capabilities.reset, false);
  h1.exchange.response.reset(8);
  assert.equal(h1.queue.of('reset').length, 0);
  assert.equal(h1.queue.of('cancel').length, 1);
  assert.equal(h1.settled.length, 1);
});

test('an aborted exchange whose head is out is cancelled once', async () => {
  const { queue, exchange } = recordedExchange(windows2022, { http2: true });
  const head = exchange.response.head(200, undefined, [], false);
  await complete(queue, 'sendResponse');
  await head;
  exchange.abort(new Error('shutting down'));
  exchange.abort(new Error('again'));
  assert.equal(queue.of('cancel').length, 1);
  assert.equal(queue.of('reset').length, 0);
});

test('upgrade: a bad header is refused before anything is sent, and the response can still be answered', async () => {
  const { queue, exchange } = recordedExchange(windows2022, { method: 'GET', headers: ['host', 'localhost:8080', 'upgrade', 'websocket'] });
  await assert.rejects(exchange.response.upgrade([['upgrade', 'websocket'], ['x-bad', 'a\r\nb']]), TypeError);
  assert.equal(queue.calls.length, 0);
  const head = exchange.response.head(500, undefined, [], true);
  await complete(queue, 'sendResponse');
  await head;
});

test('upgrade: opaque 101 with Connection: Upgrade, writes keep MORE_DATA, end sends DISCONNECT, a zero read ends the stream', async () => {
  const { queue, exchange, settled } = recordedExchange(windows2022, { method: 'GET', headers: ['host', 'localhost:8080', 'upgrade', 'websocket'] });
  assert.equal(exchange.request.capabilities.upgrade, true);
  const upgrading = exchange.response.upgrade([['upgrade', 'websocket'], ['content-length', '0']]);
  await turn();
  const sent = queue.of('sendResponse')[0]!.arg as NativeResponse;
  assert.equal(sent.status, 101);
  assert.equal(sent.opaque, true);
  assert.equal(sent.moreData, true);
  assert.deepEqual(sent.headers, ['upgrade', 'websocket', 'connection', 'Upgrade']);
  await complete(queue, 'sendResponse');
  const stream = await upgrading;
  const ended = new Promise<void>((resolve) => stream.once('end', resolve));
  stream.resume();
  await turn();
  queue.unsettled('readBody')[0]!.resolve!(null);
  await ended;
  const finished = new Promise<void>((resolve) => stream.once('finish', resolve));
  stream.write(text('bye'));
  stream.end();
  await turn();
  assert.deepEqual(queue.of('sendBody')[0]!.arg, { body: [Buffer.from('bye')], moreData: true });
  await complete(queue, 'sendBody');
  assert.deepEqual(queue.of('sendBody')[1]!.arg, { moreData: false, disconnect: true });
  assert.equal(settled.length, 0);
  await complete(queue, 'sendBody');
  await finished;
  assert.equal(settled.length, 1);
  assert.equal(queue.of('cancel').length, 0);
});

test('a head Http.sys refuses leaves no request behind: it is cancelled, unless the client is already gone', async () => {
  const refused = recordedExchange(windows2022, { http2: true });
  const head = Promise.resolve(refused.exchange.response.head(200, undefined, [['x-a', '1']], false));
  await turn();
  refused.queue.unsettled('sendResponse')[0]!.reject!(win32Error('HttpSendHttpResponse', 87, 'ERROR_INVALID_PARAMETER'));
  await assert.rejects(head, { name: 'HttpSysError', winError: 87 });
  assert.equal(refused.queue.of('cancel').length, 1);
  assert.equal(refused.exchange.request.signal.aborted, true);
  assert.equal(refused.settled.length, 1);

  const gone = recordedExchange(windows2022, { http2: true });
  const head2 = Promise.resolve(gone.exchange.response.head(200, undefined, [], true));
  await turn();
  gone.queue.unsettled('sendResponse')[0]!.reject!(win32Error('HttpSendHttpResponse', 1229, 'ERROR_CONNECTION_INVALID'));
  await assert.rejects(head2);
  assert.equal(gone.queue.of('cancel').length, 0);
  assert.ok(gone.exchange.request.signal.reason instanceof ClientDisconnectedError);
});

test('trailers that cannot be sent end the exchange instead of leaving the stream open', async () => {
  const { queue, exchange, settled } = recordedExchange(windows2022, { http2: true });
  const head = exchange.response.head(200, undefined, [], false, true);
  await complete(queue, 'sendResponse');
  await head;
  await assert.rejects(Promise.resolve(exchange.response.end([['grpc-message', 'line\nbreak']])), TypeError);
  assert.equal(queue.of('sendBody').length, 0);
  assert.equal(queue.of('cancel').length, 1);
  assert.equal(exchange.request.signal.aborted, true);
  assert.equal(settled.length, 1);
});

test('a whole response (unary gRPC: body and trailers known up front) is one final HttpSendHttpResponse', async () => {
  const { queue, exchange, settled } = recordedExchange(windows2022, { http2: true });
  const sink = exchange.response;
  assert.equal(typeof sink.respond, 'function');
  const message = new Uint8Array([0, 0, 0, 0, 2, 8, 1]);
  const done = sink.respond!(200, 'OK', [['content-type', 'application/grpc']], message, [['grpc-status', '0']]);
  await turn();
  assert.equal(queue.calls.length, 1);
  const sent = queue.of('sendResponse')[0]!.arg as NativeResponse;
  assert.deepEqual(sent, {
    status: 200,
    headers: ['content-type', 'application/grpc', 'content-length', '7'],
    body: [message],
    trailers: ['grpc-status', '0'],
  });
  await complete(queue, 'sendResponse');
  await done;
  assert.equal(settled.length, 1);

  const h1 = recordedExchange(windows2022, { method: 'GET' });
  const plain = h1.exchange.response.respond!(404, 'Not Found', [], text('missing\n'), undefined);
  await turn();
  assert.deepEqual(h1.queue.of('sendResponse')[0]!.arg, {
    status: 404,
    reason: 'Not Found',
    headers: ['content-length', '8'],
    body: [text('missing\n')],
  });
  await complete(h1.queue, 'sendResponse');
  await plain;
  await assert.rejects(Promise.resolve(h1.exchange.response.write(text('late'))));
});

test('an upgraded stream is closed without an error event when its exchange is aborted (queue closing)', async () => {
  const { queue, exchange, settled } = recordedExchange(windows2022, { method: 'GET', headers: ['host', 'localhost:8080', 'upgrade', 'websocket'] });
  const upgrading = exchange.response.upgrade([['upgrade', 'websocket']]);
  await complete(queue, 'sendResponse');
  const stream = await upgrading;
  const errors: Error[] = [];
  stream.on('error', (e: Error) => errors.push(e));
  const closed = new Promise<void>((resolve) => stream.once('close', resolve));
  exchange.abort(new QueueClosedError());
  await closed;
  assert.deepEqual(errors, []);
  assert.equal(queue.of('cancel').length, 1);
  assert.equal(settled.length, 1);
});
