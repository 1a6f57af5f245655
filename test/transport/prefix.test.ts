import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatUrlPrefix, matchUrlPrefix, parseUrlPrefix, UrlPrefixError, type UrlPrefix } from '../../src/index.js';

test('parses the Http.sys prefix forms', () => {
  assert.deepEqual(parseUrlPrefix('http://+:8080/api/'), {
    url: 'http://+:8080/api/',
    scheme: 'http',
    hostKind: 'strong',
    host: '+',
    port: 8080,
    path: '/api/',
  });
  const weak = parseUrlPrefix('https://*:443/');
  assert.equal(weak.hostKind, 'weak');
  assert.equal(weak.scheme, 'https');
  assert.equal(weak.path, '/');
  const named = parseUrlPrefix('HTTP://LocalHost:5000/Svc/');
  assert.equal(named.scheme, 'http');
  assert.equal(named.hostKind, 'name');
  assert.equal(named.host, 'localhost');
  assert.equal(named.path, '/Svc/', 'the path keeps its case');
  const v4 = parseUrlPrefix('http://10.1.2.3:80/');
  assert.equal(v4.hostKind, 'ipv4');
  assert.equal(v4.host, '10.1.2.3');
  const v6 = parseUrlPrefix('http://[::1]:8080/a/');
  assert.equal(v6.hostKind, 'ipv6');
  assert.equal(v6.host, '::1');
  assert.equal(formatUrlPrefix(v6), 'http://[::1]:8080/a/');
  assert.equal(parseUrlPrefix('http://[FE80::1]:81/').host, 'fe80::1');
  assert.equal(parseUrlPrefix('http://host.example.com.:80/').host, 'host.example.com');
  assert.equal(parseUrlPrefix('http://+:80/a%20b/').path, '/a%20b/');
});

test('malformed prefixes get a precise error carrying Win32 error 87', () => {
  const cases: [string, RegExp][] = [
    ['http://+:8080/api', /must end with "\/"/],
    ['http://+:8080', /must end with "\/"/],
    ['ftp://+:21/', /scheme "ftp" is not http or https/],
    ['+:8080/', /must start with "http:\/\/" or "https:\/\/"/],
    ['http://+/', /port is missing/],
    ['http://:80/', /host is empty/],
    ['http://+:0/', /port 0 is accepted only by the portable backend/],
    ['http://+:65536/', /larger than 65535/],
    ['http://+:8a/', /not a number/],
    ['http://::1:80/', /IPv6 address must be written in brackets/],
    ['http://[::1/', /no closing "\]"/],
    ['http://[::1]/', /port is missing/],
    ['http://[zz::1]:80/', /not an IPv6 address/],
    ['http://999.1.1.1:80/', /not a valid IPv4 address/],
    ['http://bad_host!:80/', /not a valid host name/],
    ['http://user@host:80/', /user information/],
    ['http://+:80/a?b/', /query/],
    ['http://+:80/a#b/', /fragment/],
    ['http://+:80/a b/', /whitespace/],
    ['http://+:80/a//b/', /empty segment/],
    ['http://+:80/a/../b/', /"\." or "\.\." segment/],
    ['http://+:80/%zz/', /percent-escape/],
    ['http://+:80/a\\b/', /cannot contain "\\"/],
    ['', /empty/],
  ];
  for (const [url, reason] of cases) {
    assert.throws(
      () => parseUrlPrefix(url),
      (err: unknown) => {
        assert.ok(err instanceof UrlPrefixError, `${url}: ${String(err)}`);
        assert.equal(err.winError, 87);
        assert.match(err.message, reason, url);
        assert.ok(err.message.includes(JSON.stringify(url)), 'the message names the prefix');
        return true;
      },
    );
  }
  assert.equal(parseUrlPrefix('http://+:0/', { allowPortZero: true }).port, 0);
});

function entries(...urls: string[]): { prefix: UrlPrefix }[] {
  return urls.map((u) => ({ prefix: parseUrlPrefix(u) }));
}

function route(list: { prefix: UrlPrefix }[], host: string, path: string, extra: { port?: number; scheme?: 'http' | 'https'; localAddress?: string } = {}): string | undefined {
  return matchUrlPrefix(list, { scheme: extra.scheme ?? 'http', port: extra.port ?? 80, host, path, ...(extra.localAddress ? { localAddress: extra.localAddress } : {}) })?.prefix.url;
}

test('routing: strong wildcard first, then the host, then the weak wildcard; longest path within a class', () => {
  const list = entries(
    'http://+:80/strong/',
    'http://example.com:80/strong/deeper/',
    'http://example.com:80/named/',
    'http://example.com:80/named/deeper/',
    'http://*:80/named/',
    'http://*:80/',
    'http://+:80/strong/longer/',
  );
  assert.equal(route(list, 'example.com', '/strong/deeper/x'), 'http://+:80/strong/', 'strong beats a longer host-specific prefix');
  assert.equal(route(list, 'example.com', '/strong/longer/x'), 'http://+:80/strong/longer/');
  assert.equal(route(list, 'EXAMPLE.com', '/named/x'), 'http://example.com:80/named/');
  assert.equal(route(list, 'example.com', '/named/deeper/x'), 'http://example.com:80/named/deeper/');
  assert.equal(route(list, 'other.test', '/named/deeper/x'), 'http://*:80/named/');
  assert.equal(route(list, 'other.test', '/anything'), 'http://*:80/');
  assert.equal(route(list, 'example.com', '/anything'), 'http://*:80/');
});

test('routing: case-insensitive paths, the prefix without its slash, ports, schemes and IP hosts', () => {
  const list = entries('http://+:80/api/', 'http://+:81/other/', 'https://+:443/api/', 'http://127.0.0.1:80/ip/', 'http://[::1]:80/v6/');
  assert.equal(route(list, 'h', '/API/Call'), 'http://+:80/api/');
  assert.equal(route(list, 'h', '/api'), 'http://+:80/api/');
  assert.equal(route(list, 'h', '/apix'), undefined);
  assert.equal(route(list, 'h', '/other/'), undefined, 'another port');
  assert.equal(route(list, 'h', '/other/', { port: 81 }), 'http://+:81/other/');
  assert.equal(route(list, 'h', '/api/', { scheme: 'https', port: 443 }), 'https://+:443/api/');
  assert.equal(route(list, 'h', '/api/', { scheme: 'https', port: 80 }), undefined);
  assert.equal(route(list, '127.0.0.1', '/ip/'), 'http://127.0.0.1:80/ip/');
  assert.equal(route(list, 'name', '/ip/', { localAddress: '::ffff:127.0.0.1' }), 'http://127.0.0.1:80/ip/', 'arriving on the IP counts');
  assert.equal(route(list, 'name', '/ip/', { localAddress: '10.0.0.1' }), undefined);
  assert.equal(route(list, '::1', '/v6/'), 'http://[::1]:80/v6/');
  assert.equal(route(list, 'h', '/nothing/'), undefined);
});
