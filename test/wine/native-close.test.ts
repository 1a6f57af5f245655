// Closing a queue while receives (and a body read) are outstanding completes
// everything, releases every handle, and lets node.exe exit by itself with 0.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { freePort, wineHost, type WineHost } from './harness.js';
import { request, requestJson, type Echo } from './client.js';
import { startNativeServer, unavailableReason } from './native-fixture.js';

const host = await wineHost();
const skip = unavailableReason(host);

/** Sends headers announcing `total` body bytes but only `sent` of them; resolves once the request is on the wire. */
function partialPost(port: number, path: string, total: number, sent: number): { done: Promise<unknown>; abort: () => void } {
  const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'Content-Length': total }, agent: false });
  const done = new Promise((resolve) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', resolve);
    });
    req.on('error', resolve);
    req.on('close', () => resolve('closed'));
  });
  req.write(Buffer.alloc(sent, 0x61));
  return { done, abort: () => req.destroy() };
}

describe('addon under Wine: close', { skip, timeout: 300_000 }, () => {
  test('close with receives, an unanswered request and an unfinished upload in flight exits cleanly', async () => {
    const port = await freePort();
    const server = await startNativeServer(host as WineHost, { name: 'closer', prefixes: [`http://+:${port}/close/`], receives: 8, announce: true });
    const held = new AbortController();
    let partial: { done: Promise<unknown>; abort: () => void } | undefined;
    try {
      const echo = await requestJson<Echo>(port, '/close/echo', { agent: false });
      assert.equal(echo.fixture, 'closer');

      // A request the fixture never answers, and one whose body stops short: Windows hands it over
      // at once and the body read waits; Wine's http.sys holds it until the body is complete.
      partial = partialPost(port, '/close/echo?partial', 1_000_000, 1000);
      const hold = request(port, '/close/hold', { agent: false, signal: held.signal }).catch(() => 'aborted');
      // The unanswered request has reached the process before it closes.
      for (;;) {
        const { rawUrl } = await server.proc.nextReport<{ rawUrl: string }>('request');
        if (rawUrl === '/close/hold') break;
      }

      const closing = await requestJson<{ closing: boolean }>(port, '/close/control/close', { agent: false });
      assert.equal(closing.closing, true);
      await server.proc.nextReport('closed');
      const exit = await server.proc.waitForExit();
      assert.deepEqual(exit, { code: 0, signal: null }, `output:\n${server.proc.tail()}`);
      held.abort();
      await hold;

      const reports = server.proc.reports();
      assert.deepEqual(reports.filter((r) => r.type === 'fatal'), []);
      // A body read still waiting ended with an error once the queue closed (it did not hold up the exit).
      const failures = reports.filter((r) => r.type === 'handler-error');
      for (const f of failures) assert.match(String(f['rawUrl']), /partial/, JSON.stringify(f));
    } finally {
      held.abort();
      partial?.abort();
      await server.proc.stop();
    }
  });

  test('close right after start, with every receive still pending, exits cleanly', async () => {
    const port = await freePort();
    const server = await startNativeServer(host as WineHost, { name: 'quick', prefixes: [`http://+:${port}/quick/`], receives: 16 });
    try {
      const closing = await requestJson<{ closing: boolean }>(port, '/quick/control/close', { agent: false });
      assert.equal(closing.closing, true);
      await server.proc.nextReport('closed');
      const exit = await server.proc.waitForExit();
      assert.deepEqual(exit, { code: 0, signal: null }, `output:\n${server.proc.tail()}`);
      assert.deepEqual(server.proc.reports().filter((r) => r.type === 'fatal' || r.type === 'handler-error'), []);
    } finally {
      await server.proc.stop();
    }
  });
});
