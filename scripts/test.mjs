// Runs every test tier this machine can run and prints one closing line.
//   node scripts/test.mjs             Linux/any-OS tests, then the Wine tier when Wine is here
//   node scripts/test.mjs --wine-only the Wine tier alone
// With CI=true the Wine tier is required: a missing Wine is a failure, not a skip.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const wineOnly = args.includes('--wine-only');
const filters = args.filter((a) => !a.startsWith('--'));
const ci = process.env.CI === 'true' || process.env.CI === '1';

function findTests(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name === 'wine') continue; // runs inside Wine, see below
      findTests(p, out);
    } else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const total = { passed: 0, failed: 0, skipped: 0, failures: [] };
function add(c) {
  total.passed += c.passed;
  total.failed += c.failed;
  total.skipped += c.skipped;
  total.failures.push(...(c.failures ?? []));
}

if (!wineOnly) {
  let files = findTests(join(root, 'dist', 'test'));
  if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
  if (files.length === 0) {
    console.error('no compiled tests under dist/test: run `npm run build` first');
    process.exit(1);
  }
  const out = join(mkdtempSync(join(tmpdir(), 'httpsys-grpc-test-')), 'counts.json');
  const r = spawnSync(
    process.execPath,
    [
      '--test',
      '--test-concurrency=2',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      `--test-reporter=${pathToFileURL(join(root, 'scripts', 'count-reporter.mjs')).href}`,
      `--test-reporter-destination=${out}`,
      ...files.map((f) => relative(root, f)),
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
  );
  if (existsSync(out)) add(JSON.parse(readFileSync(out, 'utf8')));
  else add({ passed: 0, failed: 1, skipped: 0, failures: [`node --test exited ${r.status}`] });
  if (r.status !== 0 && total.failed === 0) add({ passed: 0, failed: 1, skipped: 0, failures: [`node --test exited ${r.status}`] });
}

{
  const runner = join(root, 'scripts', 'wine', 'run.mjs');
  if (existsSync(runner)) {
    const { runWineTier } = await import(pathToFileURL(runner).href);
    const result = await runWineTier({ required: ci, filters });
    if ('unavailable' in result) {
      if (ci || wineOnly) {
        console.error(`Wine tier: required but unavailable: ${result.unavailable}`);
        add({ passed: 0, failed: 1, skipped: 0, failures: [`Wine tier unavailable: ${result.unavailable}`] });
      } else {
        console.log(`Wine tier skipped: ${result.unavailable}`);
      }
    } else add(result);
  } else if (ci || wineOnly) {
    add({ passed: 0, failed: 1, skipped: 0, failures: ['Wine tier runner scripts/wine/run.mjs is missing'] });
  }
}

if (total.failures.length) {
  console.log('\nfailed:');
  for (const f of total.failures) console.log(`  ${f}`);
}
console.log(`\ntests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed ? 1 : 0);
