/**
 * The demo behind `npm start`: the Greeter service, gRPC health checking and
 * server reflection on one request queue, plus a small landing page and a
 * WebSocket echo. Http.sys on Windows, the portable Node backend elsewhere.
 *
 *   PORT=5000        port to serve (0 picks a free one)
 *   BACKEND=auto     auto | httpsys | node
 *   URLS=...         comma-separated URL prefixes, instead of the default for the backend
 *                    (e.g. https://localhost:5001/; on Http.sys bind its certificate with netsh first)
 *   TLS_CERT, TLS_KEY  PEM files for https:// prefixes on the portable backend
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  addHealthService,
  addReflectionService,
  createRequestQueue,
  GrpcServer,
  loadProtos,
  parseUrlPrefix,
  webSocketHandler,
  type BackendName,
  type CallContext,
  type Handler,
  type RequestQueue,
  type TlsOptions,
} from '../src/index.js';
import { probeGrpcHttp1, probeGrpcHttp2, probeHttp1, probeWebSocket, type ProbeResult } from './probes.js';

interface HelloRequest {
  name: string;
  count: number;
}
interface HelloReply {
  message: string;
}

/** examples/proto, found from the sources or from dist/examples. */
function protoDir(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'examples', 'proto');
    if (existsSync(path.join(candidate, 'greet.proto'))) return candidate;
    if (dir === path.dirname(dir)) throw new Error('examples/proto/greet.proto not found');
  }
}

export function createGreeterServer(): GrpcServer {
  const root = loadProtos('greet.proto', { includeDirs: [protoDir()] });
  const server = new GrpcServer();
  server.addService(root.lookupService('greet.Greeter'), {
    sayHello: async (request: HelloRequest): Promise<HelloReply> => ({ message: `Hello ${request.name}` }),
    sayHellos: async function* (request: HelloRequest, ctx: CallContext): AsyncGenerator<HelloReply> {
      const count = request.count > 0 ? Math.min(request.count, 1000) : 3;
      for (let i = 1; i <= count; i++) {
        yield { message: `Hello ${request.name} (${i} of ${count})` };
        if (i < count) await sleep(100, undefined, { signal: ctx.signal }).catch(() => undefined);
        if (ctx.signal.aborted) return;
      }
    },
  });
  addHealthService(server);
  addReflectionService(server);
  return server;
}

function landingPage(server: GrpcServer): Handler {
  return (request) => {
    if (request.path !== '/' || (request.method !== 'GET' && request.method !== 'HEAD')) return undefined;
    const lines = [
      'httpsys-grpc demo',
      '',
      'gRPC services on this origin:',
      ...server.services().map((s) => `  ${s.name}: ${s.methods.join(', ')}`),
      '',
      'WebSocket echo: /ws',
      '',
    ];
    return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: request.method === 'HEAD' ? null : lines.join('\n') };
  };
}

function defaultUrls(backend: 'auto' | BackendName, port: number): string[] {
  const onHttpSys = backend === 'httpsys' || (backend === 'auto' && process.platform === 'win32');
  // Http.sys routes by host name: serve the demo's address, localhost. The portable backend takes any host name.
  return [onHttpSys ? `http://localhost:${port}/` : `http://+:${port}/`];
}

async function openQueue(): Promise<RequestQueue> {
  const port = Number(process.env['PORT'] ?? 5000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, not ${JSON.stringify(process.env['PORT'])}`);
  const requested = (process.env['BACKEND'] ?? 'auto') as 'auto' | BackendName;
  if (!['auto', 'httpsys', 'node'].includes(requested)) throw new Error(`BACKEND must be auto, httpsys or node, not ${JSON.stringify(requested)}`);
  const urls = process.env['URLS']?.split(',').map((u) => u.trim()).filter(Boolean) ?? defaultUrls(requested, port);
  const certFile = process.env['TLS_CERT'];
  const keyFile = process.env['TLS_KEY'];
  const tls: TlsOptions | undefined = certFile && keyFile ? { cert: readFileSync(certFile), key: readFileSync(keyFile) } : undefined;
  try {
    return await createRequestQueue({ urls, backend: requested, ...(tls ? { tls } : {}) });
  } catch (error) {
    if (requested !== 'auto' || process.platform !== 'win32' || process.env['URLS']) throw error;
    console.warn(`Http.sys is not available (${(error as Error).message}); using the portable backend instead.`);
    return createRequestQueue({ urls: defaultUrls('node', port), backend: 'node' });
  }
}

function clientSnippet(target: string, protoFile: string, secure: boolean): string {
  const credentials = secure ? 'grpc.credentials.createSsl()' : 'grpc.credentials.createInsecure()';
  return [
    "import * as grpc from '@grpc/grpc-js';",
    "import * as protoLoader from '@grpc/proto-loader';",
    '',
    `const definition = protoLoader.loadSync(${JSON.stringify(protoFile)});`,
    'const { greet } = grpc.loadPackageDefinition(definition);',
    `const client = new greet.Greeter(${JSON.stringify(target)}, ${credentials});`,
    '',
    "client.sayHello({ name: 'World' }, (err, reply) => console.log(err ?? reply.message));",
    "client.sayHellos({ name: 'World', count: 3 }).on('data', (reply) => console.log(reply.message));",
  ].join('\n');
}

async function main(): Promise<void> {
  const server = createGreeterServer();
  const queue = await openQueue();
  server.listen(queue);
  queue.serve(webSocketHandler((ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })), { path: '/ws' }));
  queue.serve(landingPage(server));

  const prefix = parseUrlPrefix(queue.urls[0]!, { allowPortZero: true });
  const port = prefix.port;
  const secure = prefix.scheme === 'https';
  const origin = `${prefix.scheme}://localhost:${port}`;
  const backendText = queue.backend === 'httpsys' ? 'Http.sys (kernel HTTP stack)' : 'portable (node:http and its own HTTP/2 engine)';
  console.log(`httpsys-grpc demo on the ${backendText} backend`);
  console.log(`Listening on ${origin}/  (URL prefixes: ${queue.urls.join(', ')})`);
  console.log(`Services: ${server.services().map((s) => s.name).join(', ')}`);

  const probes: ProbeResult[] = await Promise.all([
    probeGrpcHttp2(origin),
    probeGrpcHttp1(origin),
    probeHttp1(origin, '/'),
    probeWebSocket(`${secure ? 'wss' : 'ws'}://localhost:${port}/ws`),
  ]);
  console.log('Protocols (checked just now with real requests):');
  for (const p of probes) console.log(`  ${p.ok ? 'live    ' : 'not live'}  ${p.name}${p.ok ? '' : ` (${p.detail})`}`);
  if (queue.backend === 'httpsys' && !secure) {
    console.log(
      '  Http.sys speaks HTTP/2 only over TLS, and sends trailers only on HTTP/2: for native gRPC serve an https:// prefix\n' +
        '  with a certificate bound by netsh (e.g. URLS=https://localhost:5001/).',
    );
  }

  const protoFile = path.join(protoDir(), 'greet.proto');
  console.log('\nCall it from Node with @grpc/grpc-js (npm install @grpc/grpc-js @grpc/proto-loader):\n');
  console.log(clientSnippet(`localhost:${port}`, protoFile, secure).replace(/^/gm, '    '));
  console.log(`\nOr run the bundled client: node dist/examples/client.js localhost:${port}`);
  console.log('Press Ctrl+C to stop.');

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      console.log(`${signal} again: exiting now.`);
      process.exit(1);
    }
    stopping = true;
    console.log(`\n${signal}: stopping (running calls get up to 5 s to finish)...`);
    void (async () => {
      await server.close({ graceful: 5000 });
      await queue.close({ graceful: 1000 });
      console.log('Stopped.');
      for (const s of signals) process.off(s, stop);
    })().catch((error: unknown) => {
      console.error('Error while stopping:', error);
      process.exitCode = 1;
    });
  };
  const signals: NodeJS.Signals[] = process.platform === 'win32' ? ['SIGINT', 'SIGTERM', 'SIGBREAK'] : ['SIGINT', 'SIGTERM'];
  for (const s of signals) process.on(s, stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
