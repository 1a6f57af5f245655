import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequestQueue } from '../../src/transport/queue.js';
import { webSocketHandler } from '../../src/index.js';
import { openClient } from './helpers/clients.js';

/** A one-day self-signed certificate for localhost from the openssl command, or why there is none. */
function testCertificate(): { key: string; cert: string } | { unavailable: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ws-tls-'));
  try {
    const keyFile = join(dir, 'k.pem');
    const certFile = join(dir, 'c.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'pipe' });
    if (r.error || r.status !== 0) return { unavailable: `no test certificate: openssl failed (${r.error?.message ?? r.stderr.toString().trim()})` };
    return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const certificate = testCertificate();

test('wss:// through an https:// prefix: echo, compression and the request\'s TLS facts', { skip: 'unavailable' in certificate ? certificate.unavailable : false }, async () => {
  if ('unavailable' in certificate) return;
  const queue = await createRequestQueue({ urls: ['https://127.0.0.1:0/secure/'], backend: 'node', tls: certificate });
  queue.serve(
    webSocketHandler(
      (ws, request) => {
        ws.send(JSON.stringify({ secure: request.secure, alpn: request.tls?.alpnProtocol ?? null }));
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      },
      { path: '/secure/ws', perMessageDeflate: true, verifyClient: (request) => request.secure },
    ),
  );
  try {
    const port = Number(new URL(queue.urls[0]!).port);
    const c = await openClient(`wss://127.0.0.1:${port}/secure/ws`, [], { rejectUnauthorized: false, perMessageDeflate: true });
    const facts = JSON.parse((await c.messages.next()).data.toString()) as { secure: boolean; alpn: string | null };
    assert.equal(facts.secure, true);
    assert.notEqual(facts.alpn, 'h2');
    assert.match(c.ws.extensions, /permessage-deflate/);
    const payload = randomBytes(4 * 1024 * 1024);
    c.ws.send(payload);
    assert.ok((await c.messages.next()).data.equals(payload));
    c.ws.close(4005, 'secure bye');
    assert.deepEqual(await c.closed, { code: 4005, reason: 'secure bye' });
  } finally {
    await queue.close();
  }
});
