import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exchangeCapabilities, httpVersionOf } from '../../src/transport/httpsys/capabilities.js';
import { windows2022, wine8 } from './hosts.js';


test('trailers only for HTTP/2 requests on a host with trailers', () => {
  assert.equal(exchangeCapabilities(windows2022, { httpVersion: '2.0', http2: true, hasBody: true }).trailers, true);
  assert.equal(exchangeCapabilities(windows2022, { httpVersion: '1.1', http2: false, hasBody: false }).trailers, false);
  assert.equal(exchangeCapabilities(wine8, { httpVersion: '2.0', http2: true, hasBody: false }).trailers, false);
});

test('upgrade only for HTTP/1.1 requests without a body on a host with opaque sends', () => {
  assert.equal(exchangeCapabilities(windows2022, { httpVersion: '1.1', http2: false, hasBody: false }).upgrade, true);
  assert.equal(exchangeCapabilities(windows2022, { httpVersion: '1.1', http2: false, hasBody: true }).upgrade, false);
  assert.equal(exchangeCapabilities(windows2022, { httpVersion: '1.0', http2: false, hasBody: false }).upgrade, false);
  assert.equal(exchangeCapabilities(windows2022, { httpVersion: '2.0', http2: true, hasBody: false }).upgrade, false);
  assert.equal(exchangeCapabilities(wine8, { httpVersion: '1.1', http2: false, hasBody: false }).upgrade, false);
});

test('reset only on HTTP/2 where the host has it; streaming follows the host', () => {
  assert.equal(exchangeCapabilities(windows2022, { httpVersion: '2.0', http2: true, hasBody: false }).reset, true);
  const w = exchangeCapabilities(windows2022, { httpVersion: '1.1', http2: false, hasBody: false });
  assert.equal(w.reset, false, 'HTTP/1.1 has no RST_STREAM');
  assert.equal(w.streaming, true);
  assert.equal(w.http2, false);
  const v = exchangeCapabilities(wine8, { httpVersion: '1.1', http2: false, hasBody: false });
  assert.equal(v.reset, false);
  assert.equal(v.streaming, false);
});

test('HTTP versions map to the contract spelling', () => {
  assert.equal(httpVersionOf('1.1', false), '1.1');
  assert.equal(httpVersionOf('1.0', false), '1.0');
  assert.equal(httpVersionOf('2.0', false), '2.0');
  assert.equal(httpVersionOf('1.1', true), '2.0');
  assert.equal(httpVersionOf('', false), '1.1');
});
