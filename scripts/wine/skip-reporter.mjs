// node:test reporter that lists skipped tests with their reasons as JSON
// (scripts/wine/run.mjs prints the list after the Wine tier).
export default async function* skipReporter(source) {
  const skipped = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { data } = event;
    if (data.details?.type === 'suite') continue;
    if (data.skip === undefined || data.skip === false) continue;
    skipped.push({ file: data.file ?? '', name: data.name, reason: typeof data.skip === 'string' ? data.skip : 'no reason given' });
  }
  yield JSON.stringify(skipped);
}
