import type { ServerResponse } from '../transport/types.js';
import type { HandshakeRejection } from './handshake.js';

/** The HTTP answer for a refused handshake: the status and the reason as plain text. */
export function rejectionResponse(rejection: HandshakeRejection): ServerResponse {
  const body = `${rejection.reason}\n`;
  return {
    status: rejection.status,
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      ...rejection.headers,
    },
    body,
  };
}
