import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpSysError, isConnectionGone, toHttpSysError } from '../../src/transport/httpsys/errors.js';
import { HttpSysError as FromEntry } from '../../src/index.js';

// The error shape the addon documents for failed Win32 calls (src/native/types.ts NativeError).
function win32Failure(syscall: string, winError: number, code: string, message: string): Error {
  return Object.assign(new Error(message), { syscall, winError, code });
}

test('addon failures become HttpSysError keeping the actionable sentence and the Win32 facts', () => {
  const original = win32Failure(
    'HttpAddUrlToUrlGroup',
    5,
    'ERROR_ACCESS_DENIED',
    'no URL ACL for this user: run netsh http add urlacl url=http://+:80/api/ user=DOMAIN\\user',
  );
  const e = toHttpSysError(original, 'registering http://+:80/api/');
  assert.ok(e instanceof HttpSysError);
  assert.ok(e instanceof FromEntry, 'the package entry exports the same class');
  const h = e as HttpSysError;
  assert.equal(h.syscall, 'HttpAddUrlToUrlGroup');
  assert.equal(h.winError, 5);
  assert.equal(h.code, 'ERROR_ACCESS_DENIED');
  assert.match(h.message, /^registering http:\/\/\+:80\/api\/: no URL ACL/);
  assert.match(h.message, /netsh http add urlacl/);
  assert.equal(h.cause, original);
});

test('TypeErrors, HttpSysErrors and other errors pass through unchanged', () => {
  const t = new TypeError('bad argument');
  assert.equal(toHttpSysError(t), t);
  const h = new HttpSysError('x', 'HttpSendHttpResponse', 1229, 'ERROR_CONNECTION_INVALID');
  assert.equal(toHttpSysError(h), h);
  const plain = new RangeError('out of range');
  assert.equal(toHttpSysError(plain), plain);
  const s = toHttpSysError('odd', 'doing something');
  assert.equal(s.message, 'doing something: odd');
});

test('a missing error name falls back to the number', () => {
  const e = toHttpSysError(win32Failure('HttpReceiveRequestEntityBody', 4321, '', 'failed')) as HttpSysError;
  assert.equal(e.code, 'WIN32_4321');
});

test('connection-gone errors are recognised by their Win32 code', () => {
  assert.equal(isConnectionGone(win32Failure('HttpSendResponseEntityBody', 1229, 'ERROR_CONNECTION_INVALID', 'gone')), true);
  assert.equal(isConnectionGone(win32Failure('HttpSendResponseEntityBody', 64, 'ERROR_NETNAME_DELETED', 'gone')), true);
  assert.equal(isConnectionGone(win32Failure('HttpSendHttpResponse', 87, 'ERROR_INVALID_PARAMETER', 'bad')), false);
  assert.equal(isConnectionGone(new Error('plain')), false);
});
