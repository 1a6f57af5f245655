// What the host supports, as capabilities() reports it inside Wine, and the
// features that depend on it: each runs where the capability is present and is
// skipped with the reason where it is not.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { freePort, wineHost, type WineHost } from './harness.js';
import { request, requestJson } from './client.js';
import { startNativeServer, unavailableReason, type NativeServer } from './native-fixture.js';
import type { NativeCapabilities } from '../../src/native/types.js';

const host = await wineHost();
const skip = unavailableReason(host);

/** Why a capability is missing, in words for the skip message. */
const missing: Record<string, string> = {
  trailers: 'response trailers need HttpDataChunkTrailers, which this host lacks',
  streamingResponses: 'streamed response bodies need HttpSendResponseEntityBody, which this host stubs',
  opaqueUpgrade: 'opaque upgrades (HTTP_SEND_RESPONSE_FLAG_OPAQUE) are not implemented by this host',
  cancel: 'HttpCancelHttpRequest is a stub on this host',
  disconnectNotification: 'HttpWaitForDisconnectEx is a stub on this host',
  namedQueues: 'named request queues and OPEN_EXISTING are not implemented by this host',
  properties: 'queue length, 503 verbosity, timeouts and connection limits cannot be set on this host',
  reset: 'resetting an HTTP/2 stream needs HttpSetRequestProperty(StreamError), which this host lacks',
  http2: 'this host serves no HTTP/2',
};

function skipUnless(t: TestContext, caps: NativeCapabilities, name: keyof NativeCapabilities): boolean {
  if (caps[name]) return false;
  t.skip(`capabilities().${name} is false: ${missing[name] ?? 'not supported by this host'}`);
  return true;
}

describe('addon under Wine: capabilities', { skip, timeout: 300_000 }, () => {
  let server: NativeServer;
  let caps: NativeCapabilities;
  let port: number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  before(async () => {
    port = await freePort();
    server = await startNativeServer(host as WineHost, { name: 'caps', prefixes: [`http://+:${port}/caps/`] });
    caps = server.capabilities;
  });
  after(async () => {
    agent.destroy();
    await server?.proc.stop();
  });

  test('capabilities() knows it runs on Wine, which Wine, and sees Windows 10', async () => {
    const h = host as WineHost;
    assert.equal(caps.host, 'wine');
    assert.equal(typeof caps.wineVersion, 'string');
    assert.ok(caps.wineVersion && h.wineVersion.includes(caps.wineVersion), `"${h.wineVersion}" (wine --version) names ${caps.wineVersion}`);
    assert.equal(caps.os.major, 10, 'the prefix is set to Windows 10');
    const again = await requestJson<NativeCapabilities>(port, '/caps/control/capabilities', { agent });
    assert.deepEqual(again, caps, 'stable across calls');
  });

  test('capabilities() reports the functions Wine only stubs as absent', () => {
    // Calling these under Wine aborts the process, so the addon must never claim them.
    assert.equal(caps.cancel, false);
    assert.equal(caps.disconnectNotification, false);
    assert.equal(caps.queueShutdown, false);
  });

  test('capabilities() reports what Wine 8 lacks', (t) => {
    if (!/^8\./.test(caps.wineVersion ?? '')) {
      t.skip(`this checks Wine 8's known gaps; this host runs Wine ${caps.wineVersion}`);
      return;
    }
    for (const name of ['trailers', 'reset', 'opaqueUpgrade', 'http2', 'streamingResponses', 'namedQueues', 'properties', 'delegation'] as const) {
      assert.equal(caps[name], false, `${name} on Wine ${caps.wineVersion}`);
    }
  });

  test('without cancel, reset or disconnect notification, calling them throws and the process survives', async (t) => {
    const absent = (['cancel', 'reset', 'disconnect'] as const).filter((f) =>
      f === 'disconnect' ? !caps.disconnectNotification : !caps[f],
    );
    if (absent.length === 0) {
      t.skip('this host supports all three');
      return;
    }
    for (const feature of absent) {
      const r = await server.proc.whileRunning(request(port, `/caps/feature/${feature}`, { agent }));
      assert.equal(r.status, 500, `${feature}: the call failed and the fixture answered with the error`);
      const { error } = JSON.parse(r.body.toString()) as { error: { message: string } };
      assert.ok(error.message.length > 10, `${feature}: ${error.message}`);
    }
    assert.equal(server.proc.hasExited, false);
    assert.deepEqual(server.proc.reports().filter((r) => r.type === 'fatal'), []);
    const ok = await request(port, '/caps/echo', { agent });
    assert.equal(ok.status, 200);
  });

  test('response trailers', async (t) => {
    if (skipUnless(t, caps, 'trailers')) return;
    const r = await request(port, '/caps/feature/trailers', { agent });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'with trailers');
    assert.equal(r.trailers['x-checksum'], 'abc123');
  });

  test('streamed response body (HttpSendResponseEntityBody)', async (t) => {
    if (skipUnless(t, caps, 'streamingResponses')) return;
    const r = await request(port, '/caps/feature/stream?chunks=3', { agent });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'chunk 0\nchunk 1\nchunk 2\n');
  });

  test('opaque upgrade: 101, then raw bytes both ways', async (t) => {
    if (skipUnless(t, caps, 'opaqueUpgrade')) return;
    const echoed = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/caps/feature/upgrade', agent: false, headers: { connection: 'Upgrade', upgrade: 'echo' } });
      req.on('upgrade', (res, socket) => {
        assert.equal(res.statusCode, 101);
        socket.write('ping over raw bytes');
        socket.once('data', (d: Buffer) => {
          socket.destroy();
          resolve(d.toString());
        });
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(echoed, 'ping over raw bytes');
  });

  test('cancel a request', async (t) => {
    if (skipUnless(t, caps, 'cancel')) return;
    await assert.rejects(request(port, '/caps/feature/cancel', { agent: false }));
  });

  test('disconnect notification', async (t) => {
    if (skipUnless(t, caps, 'disconnectNotification')) return;
    const ac = new AbortController();
    const pending = request(port, '/caps/feature/disconnect', { agent: false, signal: ac.signal }).catch(() => 'aborted');
    const waiting = await server.proc.nextReport<{ connectionId: string }>('waiting-for-disconnect');
    ac.abort();
    await pending;
    const gone = await server.proc.nextReport<{ connectionId: string }>('disconnected');
    assert.equal(gone.connectionId, waiting.connectionId);
  });

  test('named queues: create, then attach a second handle', async (t) => {
    if (skipUnless(t, caps, 'namedQueues')) return;
    const r = await requestJson<{ ownerCreated: boolean; secondCreated: boolean }>(port, `/caps/feature/named-queue?name=httpsys-grpc-wine-${process.pid}`, { agent });
    assert.deepEqual(r, { ownerCreated: true, secondCreated: false });
  });

  test('queue properties: length, 503 verbosity, timeouts, connection limit', async (t) => {
    if (skipUnless(t, caps, 'properties')) return;
    assert.deepEqual(await requestJson<{ ok: boolean }>(port, '/caps/feature/properties', { agent }), { ok: true });
  });

  test('HTTP/2', (t) => {
    if (skipUnless(t, caps, 'http2')) return;
    t.skip('HTTP/2 on Http.sys needs HTTPS, which needs a server certificate bound to the port (the Windows tier covers it)');
  });

  test('HTTP/2 stream reset', (t) => {
    if (skipUnless(t, caps, 'reset')) return;
    t.skip('resetting a stream needs an HTTP/2 connection, which needs HTTPS with a bound certificate (the Windows tier covers it)');
  });

  // Last in this file: if the addon called Wine's HttpSendResponseEntityBody stub, the process would abort.
  test('without streamed responses, sendBody throws instead of reaching the host', async (t) => {
    if (caps.streamingResponses) {
      t.skip('this host streams response bodies');
      return;
    }
    const r = await server.proc.whileRunning(request(port, '/caps/feature/send-body-unknown', { agent }));
    assert.equal(r.status, 500, r.body.toString());
    const { error } = JSON.parse(r.body.toString()) as { error: { message: string } };
    assert.ok(error.message.length > 10, error.message);
    assert.equal(server.proc.hasExited, false);
    assert.equal((await request(port, '/caps/echo', { agent })).status, 200);
  });

  test('HTTPS', (t) => {
    t.skip(
      caps.host === 'wine'
        ? "Wine's http.sys has no TLS: HTTPS prefixes and certificate bindings (HttpSetServiceConfiguration) are not implemented"
        : 'HTTPS needs a server certificate bound to the port (the Windows tier covers it)',
    );
  });
});
