// Linux-side script (not a test): starts a Wine process through the harness and
// exits without stopping it, printing the private prefix and the Wine pid as JSON.
// harness.test.ts checks that nothing of it survives.
import { freePort, startWineNode, wineHost } from './harness.js';

const host = await wineHost();
if ('unavailable' in host) throw new Error(host.unavailable);
const port = await freePort();
const proc = startWineNode(host, { script: 'dist/test/wine/fixtures/harness-probe.js', env: { PROBE_PORT: String(port) } });
await proc.nextReport('ready');
process.stdout.write(`${JSON.stringify({ prefix: host.prefix, pid: proc.pid, port })}\n`);
// No stop(): the harness must end the Wine process and its prefix when this process exits.
