/**
 * Checks, with real requests, which protocols a running server answers on:
 * native gRPC over HTTP/2 cleartext and over HTTP/1.1, plain HTTP/1.1, and
 * WebSocket. Each check gives up after a few seconds and never throws.
 */
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import WebSocket from 'ws';

export interface ProbeResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

const TIMEOUT_MS = 3000;

function agentFor(origin: string): http.Agent {
  return origin.startsWith('https:') ? new https.Agent({ keepAlive: false, rejectUnauthorized: false }) : new http.Agent({ keepAlive: false });
}

function requestFor(origin: string): typeof http.request {
  return origin.startsWith('https:') ? https.request : http.request;
}
/** An empty, uncompressed gRPC message: the HealthCheckRequest for the server as a whole. */
const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]);
const HEALTH_CHECK = '/grpc.health.v1.Health/Check';

function withTimeout<T>(run: (done: (value: T) => void) => () => void, onTimeout: T): Promise<T> {
  return new Promise((resolve) => {
    let finished = false;
    let cleanup: () => void = () => undefined;
    const done = (value: T): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      cleanup();
      resolve(value);
    };
    const timer = setTimeout(() => done(onTimeout), TIMEOUT_MS);
    cleanup = run(done);
  });
}

/** gRPC health check over HTTP/2: prior knowledge (h2c) for http://, ALPN h2 for https://. */
export function probeGrpcHttp2(origin: string): Promise<ProbeResult> {
  const secure = origin.startsWith('https:');
  const name = secure ? 'gRPC over HTTP/2 (TLS, h2)' : 'gRPC over HTTP/2 cleartext (h2c)';
  return withTimeout<ProbeResult>((done) => {
    // The demo checks itself: a self-signed certificate is fine here.
    const session = http2.connect(origin, secure ? { rejectUnauthorized: false } : {});
    session.on('error', (e) => done({ name, ok: false, detail: e.message }));
    const stream = session.request({
      ':method': 'POST',
      ':path': HEALTH_CHECK,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let status: string | undefined;
    const take = (headers: http2.IncomingHttpHeaders): void => {
      const s = headers['grpc-status'];
      if (typeof s === 'string') status = s;
    };
    stream.on('response', take);
    stream.on('trailers', take);
    stream.on('error', (e) => done({ name, ok: false, detail: e.message }));
    stream.on('close', () =>
      done(status === '0' ? { name, ok: true, detail: 'health check answered OK' } : { name, ok: false, detail: `grpc-status ${status ?? 'missing'}` }),
    );
    stream.resume();
    stream.end(EMPTY_MESSAGE);
    return () => session.destroy();
  }, { name, ok: false, detail: 'no answer' });
}

/** gRPC health check over HTTP/1.1 (chunked body, status in trailers). */
export function probeGrpcHttp1(origin: string): Promise<ProbeResult> {
  const name = 'gRPC over HTTP/1.1 (chunked, trailers)';
  // (An https:// origin negotiates HTTP/1.1 here: node's https client offers no h2.)
  return withTimeout<ProbeResult>((done) => {
    const agent = agentFor(origin);
    const req = requestFor(origin)(new URL(HEALTH_CHECK, origin), {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/grpc', te: 'trailers' },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => {
        const status = res.trailers['grpc-status'] ?? res.headers['grpc-status'];
        done(status === '0' ? { name, ok: true, detail: 'health check answered OK' } : { name, ok: false, detail: `HTTP ${res.statusCode}, grpc-status ${String(status ?? 'missing')}` });
      });
    });
    req.on('error', (e) => done({ name, ok: false, detail: e.message }));
    req.end(EMPTY_MESSAGE);
    return () => {
      req.destroy();
      agent.destroy();
    };
  }, { name, ok: false, detail: 'no answer' });
}

/** A plain GET over HTTP/1.1. */
export function probeHttp1(origin: string, path = '/'): Promise<ProbeResult> {
  const name = `HTTP/1.1 (GET ${path})`;
  return withTimeout<ProbeResult>((done) => {
    const agent = agentFor(origin);
    const req = requestFor(origin)(new URL(path, origin), { agent }, (res) => {
      res.resume();
      res.on('end', () => done({ name, ok: res.statusCode === 200, detail: `HTTP ${res.statusCode}` }));
    });
    req.end();
    req.on('error', (e) => done({ name, ok: false, detail: e.message }));
    return () => {
      req.destroy();
      agent.destroy();
    };
  }, { name, ok: false, detail: 'no answer' });
}

/** A WebSocket echo round trip. */
export function probeWebSocket(url: string): Promise<ProbeResult> {
  const name = `WebSocket (${url}, echo)`;
  return withTimeout<ProbeResult>((done) => {
    const ws = new WebSocket(url, { rejectUnauthorized: false });
    ws.on('open', () => ws.send('ping'));
    ws.on('message', (data) => {
      const text = Buffer.isBuffer(data) ? data.toString() : String(data);
      done({ name, ok: text === 'ping', detail: `echoed ${JSON.stringify(text)}` });
    });
    ws.on('error', (e) => done({ name, ok: false, detail: e.message }));
    return () => ws.terminate();
  }, { name, ok: false, detail: 'no answer' });
}
