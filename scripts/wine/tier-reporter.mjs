// node:test reporter for the Wine tier: tallies leaf tests like
// scripts/count-reporter.mjs and also lists every skipped test with its reason,
// as one JSON object { passed, failed, skipped, failures, skips }.
export default async function* tierReporter(source) {
  const result = { passed: 0, failed: 0, skipped: 0, failures: [], skips: [] };
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { data } = event;
    if (data.details?.type === 'suite') {
      // A skipped suite hides its tests: count it once and list it so the reason is printed.
      if (typeof data.skip === 'string') {
        result.skipped++;
        result.skips.push({ file: data.file ?? '', name: data.name, reason: data.skip });
      }
      continue;
    }
    const skipped = (data.skip !== undefined && data.skip !== false) || (data.todo !== undefined && data.todo !== false);
    if (skipped) {
      result.skipped++;
      result.skips.push({ file: data.file ?? '', name: data.name, reason: typeof data.skip === 'string' ? data.skip : 'no reason given' });
    } else if (event.type === 'test:pass') result.passed++;
    else {
      result.failed++;
      result.failures.push(`${data.file ?? ''} › ${data.name}`);
    }
  }
  yield JSON.stringify(result);
}
