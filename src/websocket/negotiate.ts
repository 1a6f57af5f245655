/**
 * Subprotocol selection and permessage-deflate negotiation for one handshake,
 * using ws's own header parsers and its deflate extension.
 */
import type { PerMessageDeflateOptions } from 'ws';
import type { ServerRequest } from '../transport/types.js';
import type { HandshakeRejection } from './handshake.js';
import type { WebSocketOptions } from './options.js';
import { wsExports, type PerMessageDeflateExtension } from './ws-internals.js';

export interface NegotiatedProtocol {
  /** Selected subprotocol, "" for none. */
  readonly protocol: string;
}

export function selectProtocol(
  request: ServerRequest,
  options: WebSocketOptions,
): NegotiatedProtocol | HandshakeRejection {
  const header = request.headers['sec-websocket-protocol'];
  if (header === undefined) return { protocol: '' };
  let offered: Set<string>;
  try {
    offered = wsExports().subprotocol.parse(header);
  } catch (err) {
    return { status: 400, reason: `invalid Sec-WebSocket-Protocol header: ${(err as Error).message}` };
  }
  if (options.handleProtocols) {
    const chosen = options.handleProtocols(offered, request);
    if (chosen === false) return { protocol: '' };
    if (!offered.has(chosen)) {
      return { status: 500, reason: `the server selected subprotocol "${chosen}", which the client did not offer` };
    }
    return { protocol: chosen };
  }
  const supported = options.protocols;
  if (supported === undefined || supported.length === 0) return { protocol: '' };
  for (const name of offered) {
    if (supported.includes(name)) return { protocol: name };
  }
  return {
    status: 400,
    reason: `none of the offered subprotocols (${[...offered].join(', ')}) is supported; this endpoint speaks ${supported.join(', ')}`,
  };
}

export interface NegotiatedExtensions {
  readonly extensions: Record<string, PerMessageDeflateExtension>;
  /** Sec-WebSocket-Extensions response value, undefined when nothing was accepted. */
  readonly header: string | undefined;
}

const NO_EXTENSIONS: NegotiatedExtensions = { extensions: {}, header: undefined };

export function negotiateExtensions(
  request: ServerRequest,
  options: WebSocketOptions,
  maxPayload: number,
): NegotiatedExtensions | HandshakeRejection {
  const header = request.headers['sec-websocket-extensions'];
  if (!options.perMessageDeflate || header === undefined) return NO_EXTENSIONS;
  const deflateOptions: PerMessageDeflateOptions = options.perMessageDeflate === true ? {} : options.perMessageDeflate;
  let offers: Record<string, unknown[]>;
  try {
    offers = wsExports().extension.parse(header);
  } catch (err) {
    return { status: 400, reason: `invalid Sec-WebSocket-Extensions header: ${(err as Error).message}` };
  }
  const { PerMessageDeflate } = wsExports();
  const deflateOffers = offers[PerMessageDeflate.extensionName];
  if (deflateOffers === undefined) return NO_EXTENSIONS;
  const deflate = new PerMessageDeflate({ ...deflateOptions, isServer: true, maxPayload });
  let params: Record<string, unknown>;
  try {
    params = deflate.accept(deflateOffers);
  } catch (err) {
    return { status: 400, reason: `unacceptable permessage-deflate offer: ${(err as Error).message}` };
  }
  return {
    extensions: { [PerMessageDeflate.extensionName]: deflate },
    header: wsExports().extension.format({ [PerMessageDeflate.extensionName]: [params] }),
  };
}
