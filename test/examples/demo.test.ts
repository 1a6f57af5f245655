// Starts the demo (`npm start` runs the same file) on a free port, calls it
// with the @grpc/grpc-js client and with the bundled example client, then
// stops it with SIGTERM and expects a clean exit.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const repoRoot = path.dirname(distRoot);

interface HelloReply {
  message: string;
}
interface GreeterClient extends grpc.Client {
  sayHello(request: { name: string }, callback: (error: grpc.ServiceError | null, reply?: HelloReply) => void): grpc.ClientUnaryCall;
  sayHellos(request: { name: string; count: number }): grpc.ClientReadableStream<HelloReply>;
}

/** Resolves when the child's output (collected into `output` all along) matches. */
function waitForLine(child: ChildProcess, pattern: RegExp, output: { text: string }): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const m = pattern.exec(output.text);
      if (!m) return;
      child.stdout!.off('data', check);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number | null): void => reject(new Error(`demo exited (${code}) before printing ${pattern}: ${output.text}`));
    child.stdout!.on('data', check);
    child.once('exit', onExit);
  });
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

describe('demo (npm start)', () => {
  let demo: ChildProcess;
  const output = { text: '' };
  let port: number;
  let client: GreeterClient;

  before(async () => {
    demo = spawn(process.execPath, [path.join(distRoot, 'examples', 'demo.js')], {
      env: { ...process.env, PORT: '0', BACKEND: 'node' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout!.on('data', (c: Buffer) => (output.text += c.toString()));
    demo.stderr!.on('data', (c: Buffer) => (output.text += c.toString()));
    await waitForLine(demo, /Press Ctrl\+C to stop/, output);
    const m = /Listening on http:\/\/localhost:(\d+)\//.exec(output.text);
    assert.ok(m, output.text);
    port = Number(m[1]);
    const def = protoLoader.loadSync(path.join(repoRoot, 'examples', 'proto', 'greet.proto'));
    const Greeter = (grpc.loadPackageDefinition(def)['greet'] as grpc.GrpcObject)['Greeter'] as grpc.ServiceClientConstructor;
    client = new Greeter(`localhost:${port}`, grpc.credentials.createInsecure()) as unknown as GreeterClient;
  });

  after(async () => {
    client?.close();
    if (demo && demo.exitCode === null && demo.signalCode === null) {
      demo.kill('SIGKILL');
      await exitOf(demo);
    }
  });

  it('prints the services and the protocols it found live', () => {
    assert.match(output.text, /Services: greet\.Greeter, grpc\.health\.v1\.Health, grpc\.reflection\.v1\.ServerReflection/);
    assert.match(output.text, /live {4} {2}gRPC over HTTP\/2 cleartext \(h2c\)/);
    assert.match(output.text, /live {4} {2}HTTP\/1\.1 \(GET \/\)/);
    assert.match(output.text, new RegExp(`new greet\\.Greeter\\("localhost:${port}"`));
  });

  it('answers SayHello with "Hello " + name', async () => {
    const reply = await new Promise<HelloReply>((resolve, reject) =>
      client.sayHello({ name: 'Grace' }, (e, r) => (e ? reject(e) : resolve(r!))),
    );
    assert.equal(reply.message, 'Hello Grace');
  });

  it('streams SayHellos, count messages', async () => {
    const messages: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.sayHellos({ name: 'Linus', count: 4 });
      call.on('data', (r: HelloReply) => messages.push(r.message));
      call.on('error', reject);
      call.on('end', resolve);
    });
    assert.deepEqual(messages, [1, 2, 3, 4].map((i) => `Hello Linus (${i} of 4)`));
  });

  it('works with the bundled grpc-js example client', async () => {
    const child = spawn(process.execPath, [path.join(distRoot, 'examples', 'client.js'), `localhost:${port}`, 'Ada'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const { code } = await exitOf(child);
    assert.equal(code, 0, out);
    assert.match(out, /health: SERVING/);
    assert.match(out, /SayHello: Hello Ada/);
    assert.match(out, /SayHellos: Hello Ada \(3 of 3\)/);
  });

  it('stops cleanly on SIGTERM, ending an open stream', async () => {
    // A long stream is still running when the signal arrives.
    const call = client.sayHellos({ name: 'Slow', count: 1000 });
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined);
    await new Promise((resolve) => call.once('data', resolve));
    demo.kill('SIGTERM');
    const { code, signal } = await exitOf(demo);
    assert.equal(signal, null);
    assert.equal(code, 0, output.text);
    assert.match(output.text, /Stopped\./);
    const s = await status;
    assert.notEqual(s.code, grpc.status.OK);
  });
});
