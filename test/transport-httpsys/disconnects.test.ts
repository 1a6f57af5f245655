/** When an exchange learns that its client went away (HttpWaitForDisconnectEx), checked against a recording queue. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientDisconnectedError } from '../../src/transport/errors.js';
import { DisconnectWatcher } from '../../src/transport/httpsys/disconnects.js';
import { windows2022 } from './hosts.js';
import { RecordingQueue, recordedExchange, turn, win32Error } from './recording-queue.js';

test('one wait per connection; its completion tells every exchange on it', async () => {
  const queue = new RecordingQueue();
  const watcher = new DisconnectWatcher(queue, true);
  const told: string[] = [];
  watcher.watch(3n, () => told.push('a'));
  const stopB = watcher.watch(3n, () => told.push('b'));
  watcher.watch(3n, () => told.push('c'));
  stopB();
  assert.equal(queue.of('waitForDisconnect').length, 1);
  queue.of('waitForDisconnect')[0]!.resolve!();
  await turn();
  assert.deepEqual(told, ['a', 'c']);
});

test('a connection already gone when the wait starts (ERROR_CONNECTION_INVALID) still tells the exchange', async () => {
  const { queue, exchange } = recordedExchange(windows2022, { http2: true });
  const signal = exchange.request.signal;
  const wait = queue.of('waitForDisconnect');
  assert.equal(wait.length, 1);
  assert.equal(wait[0]!.id, 3n);
  wait[0]!.reject!(win32Error('HttpWaitForDisconnectEx', 1229, 'ERROR_CONNECTION_INVALID'));
  await turn();
  assert.equal(signal.aborted, true);
  assert.ok(signal.reason instanceof ClientDisconnectedError);
  // The abandoned response is released in Http.sys.
  assert.equal(queue.of('cancel').length, 1);
});

test('waits ended by the queue closing tell nobody', async () => {
  const queue = new RecordingQueue();
  const watcher = new DisconnectWatcher(queue, true);
  let told = 0;
  watcher.watch(9n, () => told++);
  watcher.close();
  queue.of('waitForDisconnect')[0]!.reject!(win32Error('HttpWaitForDisconnectEx', 995, 'ERROR_OPERATION_ABORTED'));
  await turn();
  assert.equal(told, 0);
  watcher.watch(9n, () => told++);
  assert.equal(queue.of('waitForDisconnect').length, 1, 'no new wait after close');
});

test('a finished exchange stops watching', async () => {
  const { queue, exchange } = recordedExchange(windows2022, { http2: true });
  const signal = exchange.request.signal;
  const head = exchange.response.head(204, undefined, [], true);
  queue.unsettled('sendResponse')[0]!.resolve!();
  await head;
  queue.of('waitForDisconnect')[0]!.resolve!();
  await turn();
  assert.equal(signal.aborted, false);
});

test('following an exchange through onAbort and aborted starts no disconnect wait', async () => {
  const { queue, exchange } = recordedExchange(windows2022, { http2: true });
  const told: Error[] = [];
  exchange.onAbort({ exchangeAborted: (reason) => told.push(reason) });
  assert.equal(exchange.request.aborted, false);
  assert.equal(queue.of('waitForDisconnect').length, 0);
  const head = exchange.response.head(200, undefined, [], false);
  queue.unsettled('sendResponse')[0]!.resolve!();
  await head;
  const write = Promise.resolve(exchange.response.write(new Uint8Array([1])));
  await write;
  queue.unsettled('sendBody')[0]!.reject!(win32Error('HttpSendResponseEntityBody', 64, 'ERROR_NETNAME_DELETED'));
  await turn();
  assert.equal(told.length, 1);
  assert.ok(told[0] instanceof ClientDisconnectedError);
  assert.equal(exchange.request.aborted, true);
  const late: Error[] = [];
  exchange.onAbort({ exchangeAborted: (reason) => late.push(reason) });
  assert.equal(late[0], told[0]);
  assert.equal(queue.of('waitForDisconnect').length, 0);
});
