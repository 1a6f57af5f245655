// Loading the addon: off Windows it fails with one clear, typed error.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NativeAddonUnavailableError, loadNative, packageRoot } from '../../src/native/load.js';
import { isNativeError } from '../../src/native/errors.js';

test('loadNative off Windows throws NativeAddonUnavailableError pointing at the node backend', { skip: process.platform === 'win32' ? 'this is Windows' : false }, () => {
  assert.throws(
    () => loadNative(),
    (err: unknown) =>
      err instanceof NativeAddonUnavailableError &&
      err.code === 'ERR_HTTPSYS_ADDON_UNAVAILABLE' &&
      err.message.includes('needs Windows') &&
      err.message.includes("backend 'node'"),
  );
});

test('packageRoot finds this package from the compiled module', () => {
  const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { name: string };
  assert.equal(manifest.name, 'httpsys-grpc');
});

test('isNativeError recognises the fields the addon sets on Win32 failures', () => {
  const e = Object.assign(new Error('HttpAddUrlToUrlGroup failed with 5 (ERROR_ACCESS_DENIED): ...'), {
    syscall: 'HttpAddUrlToUrlGroup',
    winError: 5,
    code: 'ERROR_ACCESS_DENIED',
  });
  assert.equal(isNativeError(e), true);
  assert.equal(isNativeError(new TypeError('x')), false);
  assert.equal(isNativeError({ syscall: 'x', winError: 1, code: 'y' }), false);
});
