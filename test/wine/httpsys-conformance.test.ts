// The conformance suite on the Http.sys backend: serve.js runs inside Windows
// node.exe under Wine with `--backend httpsys`; the cases run here with Linux
// clients. What Wine's http.sys cannot host is skipped by the capability or
// host fact the server reports.
import { test } from 'node:test';
import { defineConformanceCases } from '../conformance/cases.js';
import { serveTarget } from '../conformance/serve-target.js';
import { startWineNode, wineHost } from './harness.js';
import { unavailableReason } from './native-fixture.js';

const host = await wineHost();
const skip = unavailableReason(host);

if (skip !== undefined || 'unavailable' in host) {
  test('conformance on the Http.sys backend under Wine', { skip: skip ?? 'Wine tier unavailable' }, () => undefined);
} else {
  let n = 0;
  defineConformanceCases(
    serveTarget('Http.sys backend (node.exe under Wine)', 'httpsys', (args) =>
      startWineNode(host, { script: 'dist/test/conformance/serve.js', args, name: `conformance-${++n}` }),
    ),
  );
}
