/**
 * Standalone conformance server:
 *
 *   node dist/test/conformance/serve.js --backend <node|httpsys> --url <prefix> [--url <prefix2> ...]
 *        [--max-body-bytes N] [--max-header-bytes N] [--graceful MS] [--control] [--ignore-stdin]
 *        [--tls-key FILE --tls-cert FILE]   (PEM files for https:// prefixes on the portable backend)
 *        [--idle-timeout SECONDS]          (limits.timeouts.idleConnection)
 *
 * Opens one request queue per --url (port 0: a free port, the same one for every
 * port-0 prefix), installs the conformance app on each, and prints one line
 *
 *   @@report {"type":"ready","backend":...,"pid":...,"queues":[{"label","urls"}],"urls":[...],"capabilities":{...}|null}
 *
 * It closes its queues (graceful MS, default 0) on stdin end (unless
 * --ignore-stdin), on SIGTERM/SIGINT, or, with --control, on
 * `GET <prefix>__control/close?graceful=MS`; then it prints
 *
 *   @@report {"type":"closed","events":{...},"logged":{"errors":N,"warns":N}}
 *
 * and exits 0. Exit 2 means bad arguments, 1 a failure to open.
 * Portable: it also runs in Windows node.exe (under Wine for the Http.sys backend).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { createRequestQueue, parseUrlPrefix, formatUrlPrefix, type RequestQueue } from '../../src/index.js';
import { countingLogger, createConformanceApp } from './app.js';
import type { CapsAnswer } from './case-context.js';

interface Args {
  backend: 'node' | 'httpsys';
  urls: string[];
  maxBodyBytes?: number;
  maxHeaderBytes?: number;
  graceful: number;
  control: boolean;
  ignoreStdin: boolean;
  tlsKey?: string;
  tlsCert?: string;
  idleSeconds?: number;
}

function usage(message: string): never {
  process.stderr.write(`serve.js: ${message}\nusage: serve.js --backend <node|httpsys> --url <prefix> [--url <prefix>] [--max-body-bytes N] [--max-header-bytes N] [--graceful MS] [--control] [--ignore-stdin] [--tls-key FILE --tls-cert FILE] [--idle-timeout SECONDS]\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { backend: 'node', urls: [], graceful: 0, control: false, ignoreStdin: false };
  const num = (v: string | undefined, name: string): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) usage(`${name} needs a number >= 0`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): string | undefined => argv[++i];
    switch (a) {
      case '--backend': {
        const b = next();
        if (b !== 'node' && b !== 'httpsys') usage('--backend must be node or httpsys');
        args.backend = b;
        break;
      }
      case '--url': {
        const u = next();
        if (!u) usage('--url needs a prefix');
        args.urls.push(u);
        break;
      }
      case '--max-body-bytes':
        args.maxBodyBytes = num(next(), a);
        break;
      case '--max-header-bytes':
        args.maxHeaderBytes = num(next(), a);
        break;
      case '--idle-timeout':
        args.idleSeconds = num(next(), a);
        break;
      case '--graceful':
        args.graceful = num(next(), a);
        break;
      case '--control':
        args.control = true;
        break;
      case '--ignore-stdin':
        args.ignoreStdin = true;
        break;
      case '--tls-key': {
        const f = next();
        if (!f) usage('--tls-key needs a PEM file');
        args.tlsKey = f;
        break;
      }
      case '--tls-cert': {
        const f = next();
        if (!f) usage('--tls-cert needs a PEM file');
        args.tlsCert = f;
        break;
      }
      default:
        usage(`unknown argument ${a}`);
    }
  }
  if (args.urls.length === 0) usage('give at least one --url');
  if ((args.tlsKey === undefined) !== (args.tlsCert === undefined)) usage('--tls-key and --tls-cert go together');
  return args;
}

function report(type: string, data: Record<string, unknown>): void {
  process.stdout.write(`@@report ${JSON.stringify({ type, ...data })}\n`);
}

/** A port that was free a moment ago (Http.sys needs a real port in every prefix). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '0.0.0.0', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function withPort(url: string, port: number): string {
  const p = parseUrlPrefix(url, { allowPortZero: true });
  return p.port === 0 ? formatUrlPrefix({ ...p, port }) : url;
}

/** Ask our own first queue for `caps` with node:http (fetch does not work inside Wine). */
function selfCaps(prefix: string): Promise<CapsAnswer | null> {
  const p = parseUrlPrefix(prefix);
  const wildcard = p.hostKind === 'strong' || p.hostKind === 'weak';
  const connect = p.hostKind === 'ipv4' || p.hostKind === 'ipv6' ? p.host : '127.0.0.1';
  const hostHeader = wildcard ? `127.0.0.1:${p.port}` : `${p.hostKind === 'ipv6' ? `[${p.host}]` : p.host}:${p.port}`;
  const options = { host: connect, port: p.port, path: `${p.path}caps`, headers: { Host: hostHeader }, agent: false, timeout: 15_000 };
  const send = p.scheme === 'https' ? (cb: (res: http.IncomingMessage) => void) => https.request({ ...options, rejectUnauthorized: false }, cb) : (cb: (res: http.IncomingMessage) => void) => http.request(options, cb);
  return new Promise((resolve) => {
    const req = send(
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          try {
            resolve(res.statusCode === 200 ? (JSON.parse(text) as CapsAnswer) : null);
          } catch {
            resolve(null);
          }
        });
        res.on('error', () => resolve(null));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const logger = countingLogger((line) => process.stderr.write(`${line}\n`));
  const limits = {
    ...(args.maxBodyBytes !== undefined ? { maxRequestBodyBytes: args.maxBodyBytes } : {}),
    ...(args.maxHeaderBytes !== undefined ? { maxHeaderBytes: args.maxHeaderBytes } : {}),
    ...(args.idleSeconds !== undefined ? { timeouts: { idleConnection: args.idleSeconds } } : {}),
  };
  const tls = args.tlsKey !== undefined && args.tlsCert !== undefined ? { key: readFileSync(args.tlsKey, 'utf8'), cert: readFileSync(args.tlsCert, 'utf8') } : undefined;
  const queues: RequestQueue[] = [];
  let closing: Promise<void> | undefined;
  const closeAll = (graceful: number): Promise<void> => {
    closing ??= (async () => {
      await Promise.all(queues.map((q) => q.close({ graceful })));
      report('closed', { events: app.events.all(), logged: { ...logger.counts } });
      process.exitCode = 0;
      // Let stdout drain, then leave even if a stray handle lingers.
      setTimeout(() => process.exit(0), 200).unref();
    })();
    return closing;
  };
  const app = createConformanceApp({ logger, limits, ...(args.control ? { onCloseRequest: (g: number) => void closeAll(g) } : {}) });

  let zeroPort: number | undefined;
  for (const given of args.urls) {
    let url = given;
    const parsed = parseUrlPrefix(given, { allowPortZero: true });
    if (parsed.port === 0) {
      if (zeroPort === undefined && args.backend === 'httpsys') zeroPort = await freePort();
      if (zeroPort !== undefined) url = withPort(given, zeroPort);
    }
    const queue = await createRequestQueue({ urls: [url], backend: args.backend, logger, limits, ...(tls ? { tls } : {}) });
    if (parsed.port === 0 && zeroPort === undefined) zeroPort = parseUrlPrefix(queue.urls[0]!).port;
    app.install(queue, given);
    queues.push(queue);
  }

  process.on('SIGTERM', () => void closeAll(args.graceful));
  process.on('SIGINT', () => void closeAll(args.graceful));
  if (!args.ignoreStdin) {
    process.stdin.on('end', () => void closeAll(args.graceful));
    process.stdin.on('error', () => undefined);
    process.stdin.resume();
  }

  const capabilities = await selfCaps(queues[0]!.urls[0]!);
  report('ready', {
    backend: args.backend,
    pid: process.pid,
    queues: queues.map((q, i) => ({ label: args.urls[i]!, urls: q.urls })),
    urls: queues.flatMap((q) => q.urls),
    capabilities,
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`serve.js failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  report('fatal', { name: err instanceof Error ? err.name : 'Error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
