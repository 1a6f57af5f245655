/**
 * The conformance suite: the same cases for every backend. Each case talks to
 * a server started by the target, with real clients from outside, and skips
 * only when the server reports it cannot do the thing (a capability of the
 * exchange, or a host fact), saying which.
 *
 * Host facts consulted (RequestQueue.hostFacts; a missing fact counts as true):
 *   h2c                    cleartext HTTP/2 with prior knowledge
 *   http2Tls               HTTP/2 over TLS by ALPN (consulted when the suite runs over TLS)
 *   clientAbortSignal      the request signal fires when the client goes away
 *   chunkedRequestBodies   Transfer-Encoding: chunked request bodies
 *   unmatchedUrl404        URLs no prefix matches get 404
 *   arbitraryMethodsHttp1  any method token over HTTP/1.1 (default false here)
 *   dropConnection         a reset on HTTP/1.x drops the connection
 *   oversizedHeaderStatus  status for oversized request headers (default 431; 0 = closes without an answer)
 *   largeRequestBodies     request bodies reach the handler as they arrive (not buffered whole first)
 *   strictRequestParsing   broken framing (duplicate Content-Length, bad chunk sizes) gets 400
 *   maxResponseBytes       largest response where responses cannot be streamed
 *   maxRequestBytes        largest request (headers and body) the host takes at all
 *   caseInsensitivePaths   prefix paths match regardless of case
 *   strongWildcardFirst    `+` prefixes are tried before host-specific ones, whatever their length
 */
import { after, before, describe } from 'node:test';
import type { CapsAnswer, CaseContext, ConformanceTarget, RunningServer } from './case-context.js';
import { endpointOf } from './case-context.js';
import { registerBadInputCases } from './cases-bad-input.js';
import { registerBodyCases } from './cases-bodies.js';
import { registerLifecycleCases } from './cases-lifecycle.js';
import { registerProtocolCases } from './cases-protocol.js';
import { registerStreamCases } from './cases-streams.js';
import { h1Json, usingTls } from './clients.js';
import { extraCases } from './extensions.js';

export { need, fact } from './skip.js';

export function defineConformanceCases(target: ConformanceTarget): void {
  describe(`conformance on ${target.name}`, { timeout: 600_000 }, () => {
    let shared: RunningServer | undefined;
    let caps: CapsAnswer | undefined;
    let port = 0;
    const scheme = usingTls() ? 'https' : 'http';

    before(async () => {
      // Large enough for the 1 GiB echo; the 413 cases open their own queue with a small limit.
      shared = await target.start([`${scheme}://+:0/conf/`], { maxRequestBodyBytes: 2 * 1024 * 1024 * 1024 });
      port = endpointOf(shared.ready.urls[0]!).port;
      caps = shared.ready.capabilities ?? (await h1Json<CapsAnswer>(port, '/conf/caps'));
    });
    after(async () => {
      if (shared) await shared.close({ graceful: 1000 }).catch(() => shared?.kill());
    });

    const ctx: CaseContext = {
      target,
      server: () => {
        if (!shared) throw new Error('the shared server did not start');
        return shared;
      },
      caps: () => {
        if (!caps) throw new Error('the shared server did not report its capabilities');
        return caps;
      },
      scheme,
      url: (rest) => `${scheme}://127.0.0.1:${port}/conf/${rest}`,
      port: () => port,
    };

    registerProtocolCases(ctx);
    registerBodyCases(ctx);
    registerStreamCases(ctx);
    registerBadInputCases(ctx);
    registerLifecycleCases(ctx);
    for (const register of extraCases) register(ctx);
  });
}
