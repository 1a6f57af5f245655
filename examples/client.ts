/**
 * Calls the demo server with @grpc/grpc-js: SayHello, the SayHellos stream and
 * a health check.
 *
 *   node dist/examples/client.js [host:port] [name]     (default localhost:5000, World)
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { packageProtoDir } from '../src/index.js';

interface HelloReply {
  message: string;
}
interface GreeterClient extends grpc.Client {
  sayHello(request: { name: string }, callback: (error: grpc.ServiceError | null, reply?: HelloReply) => void): grpc.ClientUnaryCall;
  sayHellos(request: { name: string; count: number }): grpc.ClientReadableStream<HelloReply>;
}
interface HealthClient extends grpc.Client {
  check(request: { service: string }, callback: (error: grpc.ServiceError | null, reply?: { status: string }) => void): grpc.ClientUnaryCall;
}

function findUp(relative: string): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, relative);
    if (existsSync(candidate)) return candidate;
    if (dir === path.dirname(dir)) throw new Error(`${relative} not found`);
  }
}

async function main(): Promise<void> {
  const target = process.argv[2] ?? `localhost:${process.env['PORT'] ?? 5000}`;
  const name = process.argv[3] ?? 'World';
  const greetDef = protoLoader.loadSync(findUp('examples/proto/greet.proto'));
  const healthDef = protoLoader.loadSync('grpc/health/v1/health.proto', { includeDirs: [packageProtoDir()], enums: String });
  const greet = grpc.loadPackageDefinition(greetDef)['greet'] as grpc.GrpcObject;
  const health = ((grpc.loadPackageDefinition(healthDef)['grpc'] as grpc.GrpcObject)['health'] as grpc.GrpcObject)['v1'] as grpc.GrpcObject;
  const Greeter = greet['Greeter'] as grpc.ServiceClientConstructor;
  const Health = health['Health'] as grpc.ServiceClientConstructor;
  const credentials = grpc.credentials.createInsecure();
  const client = new Greeter(target, credentials) as unknown as GreeterClient;
  const healthClient = new Health(target, credentials) as unknown as HealthClient;
  try {
    const status = await new Promise<string>((resolve, reject) =>
      healthClient.check({ service: '' }, (e, r) => (e ? reject(e) : resolve(r!.status))),
    );
    console.log(`health: ${status}`);
    const reply = await new Promise<HelloReply>((resolve, reject) =>
      client.sayHello({ name }, (e, r) => (e ? reject(e) : resolve(r!))),
    );
    console.log(`SayHello: ${reply.message}`);
    await new Promise<void>((resolve, reject) => {
      const stream = client.sayHellos({ name, count: 3 });
      stream.on('data', (r: HelloReply) => console.log(`SayHellos: ${r.message}`));
      stream.on('error', reject);
      stream.on('end', resolve);
    });
  } finally {
    client.close();
    healthClient.close();
  }
}

main().catch((error: unknown) => {
  const e = error as { code?: number; details?: string; message?: string };
  console.error(e.details !== undefined ? `call failed: ${grpc.status[e.code ?? 2]} ${e.details}` : e.message ?? error);
  process.exitCode = 1;
});
