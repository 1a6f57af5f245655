/** How cases skip: only by what the server reports, with the reason. */
import type { TestContext } from 'node:test';
import type { CapsAnswer } from './case-context.js';

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
