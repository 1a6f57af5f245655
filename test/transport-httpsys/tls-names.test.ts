import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeTls, tlsCipherName, tlsProtocolName } from '../../src/transport/httpsys/tls-names.js';

test('SChannel protocol bits get Node-style names (server or client bit)', () => {
  assert.equal(tlsProtocolName(0x1000), 'TLSv1.3');
  assert.equal(tlsProtocolName(0x2000), 'TLSv1.3');
  assert.equal(tlsProtocolName(0x400), 'TLSv1.2');
  assert.equal(tlsProtocolName(0x800), 'TLSv1.2');
  assert.equal(tlsProtocolName(0x100), 'TLSv1.1');
  assert.equal(tlsProtocolName(0x40), 'TLSv1');
  assert.equal(tlsProtocolName(0x10), 'SSLv3');
  assert.equal(tlsProtocolName(0), undefined);
  assert.equal(tlsProtocolName(0x4000_0000), undefined);
});

test('cipher descriptions combine key exchange, cipher and hash', () => {
  assert.equal(tlsCipherName({ cipherType: 0x6610, cipherStrength: 256, hashType: 0x800d, keyExchangeType: 0xae06 }), 'ECDHE-AES-256-SHA384');
  assert.equal(tlsCipherName({ cipherType: 0x6611, cipherStrength: 128, hashType: 0x800c, keyExchangeType: 0xa400 }), 'RSA-AES-128-SHA256');
  assert.equal(tlsCipherName({ cipherType: 0x660e, cipherStrength: 128, hashType: 0, keyExchangeType: 0 }), 'AES-128');
  assert.equal(tlsCipherName({ cipherType: 0x1234, cipherStrength: 0, hashType: 0, keyExchangeType: 0 }), '0x1234');
  assert.equal(tlsCipherName({ cipherType: 0, cipherStrength: 0, hashType: 0x8004, keyExchangeType: 0 }), undefined);
});

test('TLS facts: ALPN h2 only for HTTP/2 requests', () => {
  const tls = { protocol: 0x1000, cipherType: 0x6610, cipherStrength: 256, hashType: 0x800d, keyExchangeType: 0xae06 };
  assert.deepEqual(describeTls(tls, true), { protocol: 'TLSv1.3', cipher: 'ECDHE-AES-256-SHA384', alpnProtocol: 'h2' });
  assert.deepEqual(describeTls(tls, false), { protocol: 'TLSv1.3', cipher: 'ECDHE-AES-256-SHA384' });
  assert.deepEqual(describeTls(undefined, false), {});
});
