#!/usr/bin/env node
// Cross-builds the Windows x64 addon on Linux with MinGW-w64, offline:
//   1. an import library for node.exe's Node-API exports (dlltool + node-api-headers' .def),
//   2. cmake with cmake/mingw-w64-x86_64.cmake (the -posix g++), static C++ runtime,
//   3. a check that the .node imports no MinGW runtime DLL,
//   4. prebuilds/win32-x64/node.napi.node (node-gyp-build's name for an N-API build),
//      and build/win/native-tests.exe (the structure checks; run it under Wine).
// Flags: --debug (unoptimised build), --run-tests (run native-tests.exe under Wine afterwards).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = new Set(process.argv.slice(2));
const buildType = args.has('--debug') ? 'Debug' : 'Release';
const buildDir = join(root, 'build', 'win');
const triple = 'x86_64-w64-mingw32';
const tools = {
  cxx: `${triple}-g++-posix`,
  dlltool: `${triple}-dlltool`,
  objdump: `${triple}-objdump`,
  cmake: 'cmake',
};
// DLLs that would have to ship next to the addon: the build fails if any is imported.
const forbiddenImports = /^(libstdc\+\+|libgcc_s|libwinpthread|libgomp|libssp|libatomic|libquadmath)[-.\w]*\.dll$/i;

function fail(message) {
  console.error(`build-win: ${message}`);
  process.exit(1);
}

function run(command, commandArgs, options = {}) {
  const r = spawnSync(command, commandArgs, { cwd: root, stdio: options.capture ? 'pipe' : 'inherit', encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: options.env ?? process.env });
  if (r.error) fail(`${command}: ${r.error.message}`);
  if (r.status !== 0 && !options.allowFailure) {
    if (options.capture) process.stderr.write(r.stderr ?? '');
    fail(`${command} ${commandArgs.join(' ')} exited with ${r.status}`);
  }
  return r;
}

function have(command) {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return r.status === 0;
}

const missing = Object.values(tools).filter((t) => !have(t));
if (missing.length > 0) {
  fail(
    `missing ${missing.join(', ')}. On Debian/Ubuntu: apt-get install --no-install-recommends ` +
      'g++-mingw-w64-x86-64 mingw-w64-tools binutils-mingw-w64-x86-64 cmake',
  );
}

const def = join(root, 'node_modules', 'node-api-headers', 'def', 'node_api.def');
const addonApi = join(root, 'node_modules', 'node-addon-api', 'napi.h');
if (!existsSync(def) || !existsSync(addonApi)) fail('node-api-headers / node-addon-api are missing: run `npm ci` first');

mkdirSync(buildDir, { recursive: true });
const importLib = join(buildDir, 'libnode_api.a');
console.log(`build-win: import library for node.exe -> ${importLib}`);
run(tools.dlltool, ['-d', def, '-l', importLib, '-D', 'node.exe']);

console.log(`build-win: configuring (${buildType})`);
run(tools.cmake, [
  '-S', root,
  '-B', buildDir,
  `-DCMAKE_TOOLCHAIN_FILE=${join(root, 'cmake', 'mingw-w64-x86_64.cmake')}`,
  `-DCMAKE_BUILD_TYPE=${buildType}`,
  `-DNODE_API_IMPORT_LIB=${importLib}`,
]);
console.log('build-win: compiling');
run(tools.cmake, ['--build', buildDir, '--parallel', '2']);

const addon = join(buildDir, 'httpsys.node');
const tests = join(buildDir, 'native-tests.exe');
for (const file of [addon, tests]) {
  if (!existsSync(file)) fail(`expected output ${file} was not produced`);
  const dump = run(tools.objdump, ['-p', file], { capture: true }).stdout;
  const imports = [...dump.matchAll(/DLL Name:\s*(\S+)/g)].map((m) => m[1]);
  const bad = imports.filter((name) => forbiddenImports.test(name));
  if (bad.length > 0) fail(`${file} imports MinGW runtime DLLs (${bad.join(', ')}); link the runtime statically`);
  console.log(`build-win: ${file.slice(root.length + 1)} imports ${imports.join(', ')}`);
}
const addonImports = [...run(tools.objdump, ['-p', addon], { capture: true }).stdout.matchAll(/DLL Name:\s*(\S+)/g)].map((m) => m[1]);
if (!addonImports.some((n) => n.toLowerCase() === 'node.exe')) fail('the addon does not import node.exe');

const prebuildDir = join(root, 'prebuilds', 'win32-x64');
mkdirSync(prebuildDir, { recursive: true });
const prebuild = join(prebuildDir, 'node.napi.node');
// Written beside and renamed into place: processes that have the old file loaded keep their copy.
const staging = `${prebuild}.${process.pid}.tmp`;
copyFileSync(addon, staging);
renameSync(staging, prebuild);
console.log(`build-win: wrote ${prebuild.slice(root.length + 1)}`);

if (args.has('--run-tests')) {
  if (!have('wine')) fail('--run-tests needs wine');
  const prefix = process.env.WINEPREFIX ?? join(root, '.cache', 'wineprefix');
  const env = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all' };
  const r = run('wine', [tests], { env, allowFailure: true });
  if (r.status !== 0) fail('native-tests.exe reported failures');
}
