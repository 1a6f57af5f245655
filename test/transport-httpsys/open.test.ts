import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackendUnavailableError, createRequestQueue } from '../../src/index.js';
import { openHttpSysQueue } from '../../src/transport/httpsys/index.js';

const onWindows = process.platform === 'win32';

test('off Windows the Http.sys backend refuses to open with a reason that names the way out', { skip: onWindows && 'this host is Windows' }, async () => {
  await assert.rejects(
    openHttpSysQueue({ urls: ['http://+:18080/x/'], mode: 'create', logger: { warn: () => undefined, error: () => undefined } }),
    (err: unknown) => {
      assert.ok(err instanceof BackendUnavailableError);
      assert.equal(err.backend, 'httpsys');
      assert.match(err.message, /Windows/);
      assert.match(err.message, /'node'/);
      return true;
    },
  );
  await assert.rejects(createRequestQueue({ urls: ['http://+:18080/x/'], backend: 'httpsys' }), BackendUnavailableError);
});
