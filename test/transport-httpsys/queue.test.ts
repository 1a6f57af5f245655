/**
 * The Http.sys queue's bookkeeping over a recording binding: which prefix a
 * request matched after URLs came and went, the order things are released in
 * on close, and the shared server session. Http.sys itself is exercised by the
 * Wine and Windows tiers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NativeResponse } from '../../src/native/types.js';
import { HttpSysQueue } from '../../src/transport/httpsys/queue.js';
import type { BackendExchange, BackendOpenOptions } from '../../src/transport/types.js';
import { windows2022 } from './hosts.js';
import { nativeRequest, RecordingLogger, recordingBinding, turn } from './recording-queue.js';

function options(urls: string[]): BackendOpenOptions {
  return { urls, mode: 'create', logger: new RecordingLogger() };
}

test('the matched prefix follows each request\'s URL context after removeUrl and addUrl', async () => {
  const { binding, queues } = recordingBinding(windows2022);
  const a = 'http://+:8080/a/';
  const b = 'http://+:8080/b/';
  const q = await HttpSysQueue.open(binding, options([a, b]));
  const seen: BackendExchange[] = [];
  q.start((e) => seen.push(e));
  await q.removeUrl(a);
  await q.addUrl(a);
  assert.deepEqual(q.urls, [b, a]);
  const native = queues[0]!;
  native.deliver!([
    nativeRequest({ id: 1n, urlContext: 3, rawUrl: '/a/x' }),
    nativeRequest({ id: 2n, urlContext: 2, rawUrl: '/b/x' }),
    // Received before the prefix was removed: it still names the prefix it matched then.
    nativeRequest({ id: 3n, urlContext: 1, rawUrl: '/a/y' }),
  ]);
  assert.deepEqual(
    seen.map((e) => e.request.prefix),
    [a, b, a],
  );
  for (const e of seen) e.abort(new Error('test over'));
  await q.stopAccepting();
  await q.destroy();
});

test('close order: URLs removed and groups closed, exchanges left over cancelled, then the queue, then the session', async () => {
  const { binding, log, queues } = recordingBinding(windows2022);
  const q = await HttpSysQueue.open(binding, options(['http://+:8080/a/']));
  q.start(() => undefined);
  queues[0]!.deliver!([nativeRequest({ id: 5n, http2: true, httpVersion: '2.0' })]);
  assert.equal(q.inFlightCount, 1);
  await q.stopAccepting();
  await q.destroy();
  assert.deepEqual(log, [
    'session.open',
    'queue.open',
    'group1.bind queue',
    'group1.addUrl http://+:8080/a/ 1',
    'group1.removeUrl http://+:8080/a/',
    'group1.close',
    'queue.close',
    'session.close',
  ]);
  assert.deepEqual(
    queues[0]!.of('cancel').map((c) => c.id),
    [5n],
  );
  assert.equal(q.inFlightCount, 0);
});

test('one server session for every queue of the process, closed after the last', async () => {
  const { binding, log } = recordingBinding(windows2022);
  const q1 = await HttpSysQueue.open(binding, options(['http://+:8080/one/']));
  const q2 = await HttpSysQueue.open(binding, options(['http://+:8080/two/']));
  assert.equal(log.filter((l) => l === 'session.open').length, 1);
  await q1.destroy();
  assert.equal(log.includes('session.close'), false);
  await q2.destroy();
  assert.equal(log.at(-1), 'session.close');
});

test('an unreadable HTTP/2 request gets 400 without a Connection field or DISCONNECT, and the queue keeps serving', async () => {
  const { binding, queues } = recordingBinding(windows2022);
  const logger = new RecordingLogger();
  const q = await HttpSysQueue.open(binding, { ...options(['https://+:8443/']), logger });
  const seen: BackendExchange[] = [];
  q.start((e) => seen.push(e));
  const native = queues[0]!;
  native.deliver!([
    nativeRequest({ id: 8n, http2: true, httpVersion: '2.0', headers: [42 as unknown as string, 'x'] }),
    nativeRequest({ id: 9n, http2: true, httpVersion: '2.0' }),
  ]);
  const answer = native.of('sendResponse')[0]!;
  assert.equal(answer.id, 8n);
  const response = answer.arg as NativeResponse;
  assert.equal(response.status, 400);
  assert.equal(response.disconnect, undefined);
  assert.deepEqual(
    (response.headers ?? []).filter((_, i) => i % 2 === 0),
    ['content-type', 'content-length'],
  );
  assert.match(logger.lines[0]!, /could not be read/);
  assert.equal(seen.length, 1);
  answer.resolve!();
  seen[0]!.abort(new Error('test over'));
  await turn();
  await q.destroy();
});

test('a session replaced by another binding\'s is still closed after its last queue', async () => {
  const first = recordingBinding(windows2022);
  const second = recordingBinding(windows2022);
  const q1 = await HttpSysQueue.open(first.binding, options(['http://+:8080/one/']));
  const q2 = await HttpSysQueue.open(second.binding, options(['http://+:8080/two/']));
  await q1.destroy();
  await q2.destroy();
  assert.equal(first.log.at(-1), 'session.close');
  assert.equal(second.log.at(-1), 'session.close');
});
