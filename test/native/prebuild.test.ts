// The shipped Windows binary: an x64 Node-API DLL that imports node.exe and
// system DLLs only (the MinGW C++ runtime is linked in statically).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../../src/native/load.js';
import { readPeFacts } from './pe-imports.js';

const root = packageRoot();
const prebuild = join(root, 'prebuilds', 'win32-x64', 'node.napi.node');
const missing = existsSync(prebuild) ? false : 'no prebuilds/win32-x64/node.napi.node here: run `npm run build:win` first';

test('the prebuilt addon is an x64 DLL exporting the Node-API module entry', { skip: missing }, () => {
  const facts = readPeFacts(prebuild);
  assert.equal(facts.machine, 0x8664, 'AMD64 machine type');
  assert.equal(facts.isDll, true);
  assert.ok(facts.exports.includes('napi_register_module_v1'), `exports: ${facts.exports.join(', ')}`);
});

test('the prebuilt addon imports node.exe and Windows system DLLs only', { skip: missing }, () => {
  const imports = readPeFacts(prebuild).imports.map((n) => n.toLowerCase());
  assert.ok(imports.includes('node.exe'), `imports: ${imports.join(', ')}`);
  const mingwRuntime = imports.filter((n) => /^(libstdc\+\+|libgcc_s|libwinpthread|libgomp|libssp|libatomic)/.test(n));
  assert.deepEqual(mingwRuntime, [], 'no MinGW runtime DLL may be imported');
  const allowed = new Set(['node.exe', 'kernel32.dll', 'msvcrt.dll', 'httpapi.dll', 'ws2_32.dll', 'advapi32.dll', 'ntdll.dll']);
  assert.deepEqual(imports.filter((n) => !allowed.has(n) && !n.startsWith('api-ms-win-')), [], `imports: ${imports.join(', ')}`);
});

test('the test program is built beside it and is statically linked too', { skip: existsSync(join(root, 'build', 'win', 'native-tests.exe')) ? false : 'build/win/native-tests.exe is not built here' }, () => {
  const facts = readPeFacts(join(root, 'build', 'win', 'native-tests.exe'));
  assert.equal(facts.isDll, false);
  assert.deepEqual(facts.imports.filter((n) => /^lib/i.test(n)), []);
});
