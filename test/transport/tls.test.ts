import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import http2 from 'node:http2';
import { createRequestQueue } from '../../src/index.js';
import { selfSignedCertificate } from '../conformance/tls-material.js';

const material = selfSignedCertificate();

test('an https:// prefix serves HTTP/1.1 and h2 by ALPN on one port', { skip: 'unavailable' in material ? material.unavailable : false }, async () => {
  if ('unavailable' in material) return;
  const q = await createRequestQueue({ urls: ['https://+:0/secure/'], backend: 'node', tls: { key: material.key, cert: material.cert } });
  q.serve((r) => ({
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ secure: r.secure, alpn: r.tls?.alpnProtocol ?? null, version: r.httpVersion, protocol: r.tls?.protocol ?? null, caps: r.capabilities }),
    trailers: () => ({ 'x-done': '1' }),
  }));
  const port = Number(/:(\d+)\//.exec(q.urls[0]!)![1]);
  try {
    const h1 = await new Promise<string>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, path: '/secure/', rejectUnauthorized: false, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
    const one = JSON.parse(h1) as { secure: boolean; alpn: string | null; version: string; protocol: string | null };
    assert.equal(one.secure, true);
    assert.equal(one.version, '1.1');
    assert.ok(one.alpn === null || one.alpn === 'http/1.1', 'a client without ALPN gets HTTP/1.1');
    assert.match(one.protocol ?? '', /^TLSv1\.[23]$/);

    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    session.on('error', () => undefined);
    try {
      const { body, trailers } = await new Promise<{ body: string; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
        const s = session.request({ ':path': '/secure/' });
        let b = '';
        let t: http2.IncomingHttpHeaders = {};
        s.setEncoding('utf8');
        s.on('data', (d: string) => (b += d));
        s.on('trailers', (x) => (t = x));
        s.on('end', () => resolve({ body: b, trailers: t }));
        s.on('error', reject);
      });
      const two = JSON.parse(body) as { secure: boolean; alpn: string | null; version: string; caps: { http2: boolean } };
      assert.equal(two.secure, true);
      assert.equal(two.version, '2.0');
      assert.equal(two.alpn, 'h2');
      assert.equal(two.caps.http2, true);
      assert.equal(trailers['x-done'], '1');
    } finally {
      session.close();
    }
  } finally {
    await q.close();
  }
});

test('https:// prefixes without a certificate are refused with a clear error', async () => {
  await assert.rejects(createRequestQueue({ urls: ['https://+:0/'], backend: 'node' }), /need the `tls` option/);
});
