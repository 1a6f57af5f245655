import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpSysHostFacts } from '../../src/transport/httpsys/host-facts.js';
import { windows2022, wine8 } from './hosts.js';

test('Windows Server 2022: Http.sys routing and framing, no h2c, HTTP/2 over TLS', () => {
  const f = httpSysHostFacts(windows2022, 1024);
  assert.equal(f['h2c'], false);
  assert.equal(f['http2Tls'], true);
  assert.equal(f['clientAbortSignal'], true);
  assert.equal(f['chunkedRequestBodies'], true);
  assert.equal(f['largeRequestBodies'], true);
  assert.equal(f['unmatchedUrl404'], true);
  assert.equal(f['caseInsensitivePaths'], true);
  assert.equal(f['strongWildcardFirst'], true);
  assert.equal(f['weakWildcards'], true);
  assert.equal(f['dropConnection'], true);
  assert.equal(f['streamingResponses'], true);
  assert.equal(f['osBuild'], 20348);
  assert.equal('maxResponseBytes' in f, false, 'nothing is buffered whole where bodies stream');
  assert.equal('maxRequestBytes' in f, false);
});

test('Wine 8: what its http.sys lacks is reported, with the sizes it can carry', () => {
  const f = httpSysHostFacts(wine8, 2 * 1024 * 1024);
  assert.equal(f['host'], 'wine');
  assert.equal(f['wineVersion'], '8.0');
  for (const name of [
    'h2c',
    'http2Tls',
    'clientAbortSignal',
    'chunkedRequestBodies',
    'largeRequestBodies',
    'unmatchedUrl404',
    'caseInsensitivePaths',
    'strongWildcardFirst',
    'weakWildcards',
    'largeRequestHeaders',
    'hostWithoutPort',
    'lowerCaseFramingHeaders',
    'dropConnection',
    'strictRequestParsing',
    'streamingResponses',
  ]) {
    assert.equal(f[name], false, name);
  }
  assert.equal(f['maxResponseBytes'], 2 * 1024 * 1024);
  assert.equal(f['maxRequestBytes'], 64 * 1024);
});
