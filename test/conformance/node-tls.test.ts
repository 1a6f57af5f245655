/**
 * The conformance suite on the portable backend over TLS: https:// prefixes,
 * HTTP/1.1 and h2 chosen by ALPN, with the server in its own process (serve.js).
 */
import { test } from 'node:test';
import { defineConformanceCases } from './cases.js';
import { useTls } from './clients.js';
import { linuxNodeLauncher, serveTarget } from './serve-target.js';
import { selfSignedCertificate } from './tls-material.js';

const material = selfSignedCertificate();
if ('unavailable' in material) {
  test('conformance on the portable backend over TLS', { skip: material.unavailable }, () => undefined);
} else {
  useTls(true);
  // Clients outside this module (the ws client of the WebSocket cases) meet the
  // same throw-away certificate; this process only talks to its own local servers.
  process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = '0';
  defineConformanceCases(
    serveTarget('portable backend over TLS (https, h2 by ALPN) via serve.js', 'node', linuxNodeLauncher, [
      '--tls-key',
      material.keyFile,
      '--tls-cert',
      material.certFile,
    ]),
  );
}
