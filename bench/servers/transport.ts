/**
 * Diagnostic server (not part of the default comparison): the request queue on
 * the portable backend with a plain transport handler that reads the request
 * body and answers with the same fixed gRPC bytes as the bare responder. The
 * gap between this and `bare` is the transport's cost; between this and `ours`
 * the gRPC layer's. Only the unary method is served.
 */
import { readBody, createRequestQueue, type ServerResponse } from '../../src/index.js';
import { PATHS, SMALL_BODY_BYTES, bodyOf, encodePayload, frame } from '../schema.js';
import type { StartedServer } from './types.js';

const REPLY = frame(encodePayload({ body: bodyOf(SMALL_BODY_BYTES) }));
const HEADERS = { 'content-type': 'application/grpc' } as const;
const TRAILERS = { 'grpc-status': '0' } as const;

export async function start(): Promise<StartedServer> {
  const queue = await createRequestQueue({ urls: ['http://127.0.0.1:0/'], backend: 'node' });
  queue.serve(async (request): Promise<ServerResponse | undefined> => {
    if (request.path !== PATHS.unary) return { status: 200, headers: { ...HEADERS, 'grpc-status': '12' } };
    await readBody(request);
    return { status: 200, headers: HEADERS, body: REPLY, trailers: TRAILERS };
  });
  const port = Number(/:(\d+)\//.exec(queue.urls[0] ?? '')?.[1]);
  return { port, close: () => queue.close({ graceful: 1000 }) };
}
