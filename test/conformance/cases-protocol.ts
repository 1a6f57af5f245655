/** Methods, headers, query strings, statuses and the handler chain. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CaseContext } from './case-context.js';
import { h1, h1Json, h2, h2Connect } from './clients.js';
import { CASE, fact, need, needH2 } from './skip.js';

interface Inspected {
  label: string;
  method: string;
  url: string;
  path: string;
  query: string;
  host: string;
  headers: Record<string, string>;
  rawHeaders: [string, string][];
  httpVersion: string;
  prefix: string;
  bodyBytes: number;
  bodySha256: string;
}

export type { Inspected };


export function registerProtocolCases(ctx: CaseContext): void {
  test('methods and odd verbs over HTTP/1.1 reach the handler unchanged', CASE, async () => {
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND', 'MKCOL', 'PURGE', 'SEARCH', 'LOCK'];
    if (fact(ctx.caps(), 'arbitraryMethodsHttp1', false)) methods.push('FROBNICATE', 'X-CUSTOM-VERB');
    for (const method of methods) {
      const r = await h1Json<Inspected>(ctx.port(), '/conf/inspect', { method });
      assert.equal(r.method, method);
      assert.equal(r.httpVersion, '1.1');
    }
    const head = await h1({ port: ctx.port(), method: 'HEAD', path: '/conf/source?bytes=100' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  });

  test('any method token over HTTP/2 reaches the handler unchanged', CASE, async (t) => {
    if (!needH2(t, ctx.caps())) return;
    const session = await h2Connect(ctx.port());
    try {
      for (const method of ['GET', 'POST', 'PROPFIND', 'FROBNICATE', 'X-CUSTOM-VERB']) {
        const r = await h2(session, { ':method': method, ':path': '/conf/inspect' }, method === 'GET' ? undefined : '');
        assert.equal(r.status, 200);
        const body = JSON.parse(r.body.toString()) as Inspected;
        assert.equal(body.method, method);
        assert.equal(body.httpVersion, '2.0');
      }
    } finally {
      session.close();
    }
  });

  test('request header names arrive lower-cased, repeated fields joined and kept in order', CASE, async () => {
    const r = await h1Json<Inspected>(ctx.port(), '/conf/inspect', {
      headers: ['X-Mixed-Case', 'Value', 'x-rep', 'one', 'X-REP', 'two', 'Cookie', 'a=1', 'cookie', 'b=2', 'Host', `127.0.0.1:${ctx.port()}`],
    });
    assert.equal(r.headers['x-mixed-case'], 'Value');
    assert.equal(r.headers['x-rep'], 'one, two');
    assert.equal(r.headers['cookie'], 'a=1; b=2');
    assert.equal(r.headers['X-Mixed-Case'], undefined);
    const reps = r.rawHeaders.filter(([n]) => n === 'x-rep').map(([, v]) => v);
    assert.deepEqual(reps, ['one', 'two']);
    assert.ok(r.rawHeaders.every(([n]) => n === n.toLowerCase()));
    assert.equal(r.host, '127.0.0.1');
  });

  test('repeated and mixed-case response headers reach an HTTP/1.1 client', CASE, async () => {
    const r = await h1({ port: ctx.port(), path: '/conf/headers' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-mixed-case'], 'Value');
    assert.deepEqual(r.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
    const repeated: string[] = [];
    for (let i = 0; i < r.rawHeaders.length; i += 2) {
      if (r.rawHeaders[i]!.toLowerCase() === 'x-repeated') repeated.push(r.rawHeaders[i + 1]!);
    }
    assert.deepEqual(repeated, ['one', 'two']);
  });

  test('repeated request and response headers over HTTP/2', CASE, async (t) => {
    if (!needH2(t, ctx.caps())) return;
    const session = await h2Connect(ctx.port());
    try {
      const r = await h2(session, { ':path': '/conf/inspect', 'x-rep': ['one', 'two'], cookie: ['a=1', 'b=2'] });
      const body = JSON.parse(r.body.toString()) as Inspected;
      assert.equal(body.headers['x-rep'], 'one, two');
      assert.equal(body.headers['cookie'], 'a=1; b=2');
      assert.ok(!Object.keys(body.headers).some((k) => k.startsWith(':')), 'pseudo-headers are not request headers');
      assert.equal(body.host, '127.0.0.1');
      const h = await h2(session, { ':path': '/conf/headers' });
      assert.equal(h.headers['x-mixed-case'], 'Value');
      assert.deepEqual(h.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
      assert.equal(h.headers['x-repeated'], 'one, two');
    } finally {
      session.close();
    }
  });

  test('query strings and encoded paths arrive exactly as sent', CASE, async () => {
    const q = 'a=1&b=%20x&a=2&empty=&flag&u=%E2%9C%93';
    const r = await h1Json<Inspected>(ctx.port(), `/conf/inspect?${q}`);
    assert.equal(r.query, q);
    assert.equal(r.path, '/conf/inspect');
    assert.equal(r.url, `/conf/inspect?${q}`);
    const empty = await h1Json<Inspected>(ctx.port(), '/conf/inspect?');
    assert.equal(empty.query, '');
    assert.equal(empty.path, '/conf/inspect');
    const encoded = await h1Json<Inspected>(ctx.port(), '/conf/inspect/%7Euser/a%2Fb?x=%2F');
    assert.equal(encoded.path, '/conf/inspect/%7Euser/a%2Fb');
    assert.equal(encoded.query, 'x=%2F');
    assert.equal(encoded.prefix, ctx.server().ready.urls[0]);
  });

  test('statuses and reason phrases are sent as given', CASE, async () => {
    const created = await h1({ port: ctx.port(), path: '/conf/status?code=201&body=made' });
    assert.equal(created.status, 201);
    assert.equal(created.body.toString(), 'made');
    const none = await h1({ port: ctx.port(), path: '/conf/status?code=204' });
    assert.equal(none.status, 204);
    assert.equal(none.body.length, 0);
    const teapot = await h1({ port: ctx.port(), path: '/conf/status?code=418&reason=Short%20And%20Stout' });
    assert.equal(teapot.status, 418);
    assert.equal(teapot.statusMessage, 'Short And Stout');
    const odd = await h1({ port: ctx.port(), path: '/conf/status?code=599' });
    assert.equal(odd.status, 599);
  });

  test('undefined passes to the next handler; 404 after the last', CASE, async () => {
    const second = await h1({ port: ctx.port(), path: '/conf/pass' });
    assert.equal(second.status, 200);
    assert.equal(second.headers['x-answered-by'], 'second-handler');
    const none = await h1({ port: ctx.port(), path: '/conf/no-such-endpoint' });
    assert.equal(none.status, 404);
  });

  test('a URL no prefix matches gets 404', CASE, async (t) => {
    if (!need(t, fact(ctx.caps(), 'unmatchedUrl404'), 'the server reports unmatched URLs are not answered with 404 (hostFacts.unmatchedUrl404 is false)')) return;
    const outside = await h1({ port: ctx.port(), path: '/elsewhere/' });
    assert.equal(outside.status, 404);
  });
}
