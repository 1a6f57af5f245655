/**
 * Correctness checks with a real client (@grpc/grpc-js): each kind of call
 * must return the right messages and end with grpc-status OK. Run before and
 * after the load on every server, since h2load counts HTTP statuses only.
 */
import * as grpc from '@grpc/grpc-js';
import { benchDefinition } from '../servers/grpcjs.js';
import { SMALL_BODY_BYTES, bodyOf, type Payload } from '../schema.js';

const BenchClient = grpc.makeGenericClientConstructor(benchDefinition, 'Bench');

type UnaryFn = (req: Payload, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Payload) => void) => void;
type StreamFn = (req: { count: number; size: number }, opts: grpc.CallOptions) => grpc.ClientReadableStream<Payload>;
type BidiFn = (opts: grpc.CallOptions) => grpc.ClientDuplexStream<Payload, Payload>;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}

function deadline(): grpc.CallOptions {
  return { deadline: Date.now() + 10000 };
}

export interface CheckResult {
  readonly ok: boolean;
  readonly calls: number;
  readonly problems: readonly string[];
}

export async function checkServer(port: number, options: { unaryCalls?: number; unaryOnly?: boolean } = {}): Promise<CheckResult> {
  const unaryCalls = options.unaryCalls ?? 20;
  const client = new BenchClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const c = client as unknown as { Unary: UnaryFn; ServerStream: StreamFn; PingPong: BidiFn };
  const problems: string[] = [];
  const body = bodyOf(SMALL_BODY_BYTES);
  let calls = 0;
  try {
    await Promise.all(
      Array.from(
        { length: unaryCalls },
        () =>
          new Promise<void>((resolve) => {
            c.Unary({ body }, deadline(), (err, res) => {
              calls++;
              if (err) problems.push(`Unary: status ${err.code} ${err.details}`);
              else if (!res || !sameBytes(res.body, body)) problems.push('Unary: wrong reply');
              resolve();
            });
          }),
      ),
    );
    if (options.unaryOnly) return { ok: problems.length === 0, calls, problems };

    await new Promise<void>((resolve) => {
      const call = c.ServerStream({ count: 100, size: SMALL_BODY_BYTES }, deadline());
      let received = 0;
      call.on('data', (m: Payload) => {
        if (sameBytes(m.body, body)) received++;
      });
      call.on('error', (err: grpc.ServiceError) => {
        problems.push(`ServerStream: status ${err.code} ${err.details}`);
        resolve();
      });
      call.on('status', (s: grpc.StatusObject) => {
        calls++;
        if (s.code !== grpc.status.OK) return;
        if (received !== 100) problems.push(`ServerStream: ${received} of 100 messages`);
        resolve();
      });
    });

    await new Promise<void>((resolve) => {
      const call = c.PingPong(deadline());
      let received = 0;
      const pings = 10;
      call.on('data', (m: Payload) => {
        if (sameBytes(m.body, body)) received++;
        if (received < pings) call.write({ body });
        else call.end();
      });
      call.on('error', (err: grpc.ServiceError) => {
        problems.push(`PingPong: status ${err.code} ${err.details}`);
        resolve();
      });
      call.on('status', (s: grpc.StatusObject) => {
        calls++;
        if (s.code !== grpc.status.OK) return;
        if (received !== pings) problems.push(`PingPong: ${received} of ${pings} answers`);
        resolve();
      });
      call.write({ body });
    });
  } finally {
    client.close();
  }
  return { ok: problems.length === 0, calls, problems };
}
