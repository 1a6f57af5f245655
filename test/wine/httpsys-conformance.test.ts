// The conformance suite on the Http.sys backend: serve.js runs inside Windows
// node.exe under Wine with `--backend httpsys`; the cases run here with Linux
// clients. What Wine's http.sys cannot host is skipped by the capability or
// host fact the server reports.
//
// Every server after the first gets a Wine prefix of its own: Wine 8's http.sys
// closes every listening socket it has when any request queue closes, so a
// case's short-lived server would otherwise take the suite's shared server
// off the network when it ends.
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { defineConformanceCases } from '../conformance/cases.js';
import { serveTarget } from '../conformance/serve-target.js';
import { repoRoot, startWineNode, WINE_HOST_ENV, wineHost, type WineHost } from './harness.js';
import { unavailableReason } from './native-fixture.js';

interface BaseSetup {
  readonly wineserver: string;
  readonly prefix: string;
}
interface RunPrefix {
  readonly prefix: string;
  readonly env: Record<string, string>;
  dispose(): void;
}

const host = await wineHost();
const skip = unavailableReason(host);

/** A fresh private prefix (own wineserver, own http.sys) made from the tier's base prefix. */
async function isolatedPrefixes(): Promise<() => RunPrefix> {
  const setup = (await import(pathToFileURL(join(repoRoot, 'scripts', 'wine', 'setup.mjs')).href)) as {
    setupWine(o: { log: (l: string) => void; requireAddon: boolean }): Promise<BaseSetup | { unavailable: string }>;
    createRunPrefix(base: BaseSetup): RunPrefix;
  };
  const given = process.env[WINE_HOST_ENV];
  const base = given ? (JSON.parse(given) as BaseSetup) : await setup.setupWine({ log: () => undefined, requireAddon: false });
  if ('unavailable' in base) throw new Error(base.unavailable);
  const made: RunPrefix[] = [];
  process.once('exit', () => {
    for (const p of made) p.dispose();
  });
  return () => {
    const run = setup.createRunPrefix(base);
    made.push(run);
    return run;
  };
}

if (skip !== undefined || 'unavailable' in host) {
  test('conformance on the Http.sys backend under Wine', { skip: skip ?? 'Wine tier unavailable' }, () => undefined);
} else {
  const newPrefix = await isolatedPrefixes();
  let n = 0;
  defineConformanceCases(
    serveTarget('Http.sys backend (node.exe under Wine)', 'httpsys', (args) => {
      n++;
      const name = `conformance-${n}`;
      if (n === 1) return startWineNode(host, { script: 'dist/test/conformance/serve.js', args, name });
      const run = newPrefix();
      const own: WineHost = { ...host, prefix: run.prefix, env: run.env };
      const proc = startWineNode(own, { script: 'dist/test/conformance/serve.js', args, name });
      void proc.exited.then(() => run.dispose());
      return proc;
    }),
  );
}
