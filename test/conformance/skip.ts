/** How cases skip: only by what the server reports, with the reason. */
import type { TestContext } from 'node:test';
import type { CapsAnswer } from './case-context.js';
import { usingTls } from './clients.js';

/** Skip the running test unless `ok`; returns `ok`. */
export function need(t: TestContext, ok: boolean, reason: string): boolean {
  if (!ok) t.skip(reason);
  return ok;
}

/** A host fact, true when the server does not mention it. */
export function fact(caps: CapsAnswer, name: string, fallback = true): boolean {
  const v = caps.hostFacts[name];
  return v === undefined ? fallback : v === true;
}

/** Options for every case: a hang becomes a failure of that case alone, not of the suite. */
export const CASE = { timeout: 180_000 } as const;

/** HTTP/2 as this suite's clients speak it: with prior knowledge on cleartext, by ALPN over TLS. */
export function h2Available(caps: CapsAnswer): boolean {
  return usingTls() ? fact(caps, 'http2Tls') : fact(caps, 'h2c');
}

/** Skip the running test unless HTTP/2 is available (see h2Available). */
export function needH2(t: TestContext, caps: CapsAnswer): boolean {
  return need(
    t,
    h2Available(caps),
    usingTls() ? 'the server reports no HTTP/2 over TLS (hostFacts.http2Tls is false)' : 'the server reports no cleartext HTTP/2 (hostFacts.h2c is false)',
  );
}
