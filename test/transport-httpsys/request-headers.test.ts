import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  announcesBody,
  declaredLength,
  mapRequestHeaders,
  requestHost,
  splitRawUrl,
} from '../../src/transport/httpsys/request-headers.js';

test('repeated request headers are joined with ", " and cookies with "; "', () => {
  const m = mapRequestHeaders(['Accept', 'a/b', 'cookie', 'x=1', 'accept', 'c/d', 'Cookie', 'y=2', 'x-one', 'v']);
  assert.equal(m.headers['accept'], 'a/b, c/d');
  assert.equal(m.headers['cookie'], 'x=1; y=2');
  assert.equal(m.headers['x-one'], 'v');
  assert.deepEqual(m.rawHeaders, [
    ['accept', 'a/b'],
    ['cookie', 'x=1'],
    ['accept', 'c/d'],
    ['cookie', 'y=2'],
    ['x-one', 'v'],
  ]);
  assert.equal(m.size, 'accept'.length * 2 + 'a/b'.length * 2 + 'cookie'.length * 2 + 6 + 'x-one'.length + 1 + 4 * 5);
});

test('header names that collide with Object.prototype stay plain data', () => {
  const m = mapRequestHeaders(['__proto__', 'x', 'constructor', 'y', 'toString', 'z']);
  assert.equal(m.headers['__proto__'], 'x');
  assert.equal(m.headers['constructor'], 'y');
  assert.equal(m.headers['tostring'], 'z');
  assert.equal(Object.keys(m.headers).length, 3);
});

test('an odd trailing entry in the flat list is ignored', () => {
  const m = mapRequestHeaders(['a', '1', 'b']);
  assert.deepEqual(m.rawHeaders, [['a', '1']]);
});

test('raw URLs split into path and query, keeping percent-encoding', () => {
  assert.deepEqual(splitRawUrl('/a%20b/c?x=1&y=%2F'), { url: '/a%20b/c?x=1&y=%2F', path: '/a%20b/c', query: 'x=1&y=%2F' });
  assert.deepEqual(splitRawUrl('/plain'), { url: '/plain', path: '/plain', query: '' });
  assert.deepEqual(splitRawUrl('/q?'), { url: '/q?', path: '/q', query: '' });
  assert.deepEqual(splitRawUrl('/q?a?b'), { url: '/q?a?b', path: '/q', query: 'a?b' });
  assert.deepEqual(splitRawUrl('http://example.com:8080/p/q?z'), { url: '/p/q?z', path: '/p/q', query: 'z' });
  assert.deepEqual(splitRawUrl('http://example.com'), { url: '/', path: '/', query: '' });
  assert.deepEqual(splitRawUrl('*'), { url: '*', path: '*', query: '' });
  assert.deepEqual(splitRawUrl('/f#frag'), { url: '/f', path: '/f', query: '' });
});

test('the host comes without its port, IPv6 keeps its brackets', () => {
  assert.equal(requestHost('', { host: 'example.com:8080' }), 'example.com');
  assert.equal(requestHost('', { host: '[::1]:8080' }), '[::1]');
  assert.equal(requestHost('', { ':authority': 'svc.local:443' }), 'svc.local');
  assert.equal(requestHost('cooked.example', { host: 'other:1' }), 'cooked.example');
  assert.equal(requestHost('', {}), '');
});

test('body announcement and declared length', () => {
  assert.equal(announcesBody({ 'content-length': '0' }), false);
  assert.equal(announcesBody({ 'content-length': '12' }), true);
  assert.equal(announcesBody({ 'transfer-encoding': 'chunked' }), true);
  assert.equal(announcesBody({}), false);
  assert.equal(declaredLength({ 'content-length': ' 42 ' }), 42);
  assert.equal(declaredLength({ 'content-length': '4x' }), undefined);
  assert.equal(declaredLength({}), undefined);
});
