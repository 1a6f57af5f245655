/**
 * A typed view of the parts of the `ws` package that attach a WebSocket to a
 * stream whose handshake was answered elsewhere. `ws` itself does this in its
 * own server; the public type declarations do not describe these members, so
 * they are declared here and checked once, when `ws` is first needed (it is
 * loaded with the first WebSocket handshake, not with the package: a service
 * that never accepts one does not pay the memory it takes).
 */
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import type { PerMessageDeflateOptions, WebSocket } from 'ws';

/** ws's permessage-deflate extension object (lib/permessage-deflate.js). */
export interface PerMessageDeflateExtension {
  /** Negotiated parameters, set by `accept`. */
  readonly params: Record<string, string | number | boolean | undefined> | null;
  /** Pick parameters from the client's offers; throws when none is acceptable. */
  accept(offers: unknown[]): Record<string, string | number | boolean | undefined>;
  /** Release the zlib streams. */
  cleanup(): void;
}

interface PerMessageDeflateConstructor {
  new (options: PerMessageDeflateOptions & { isServer: boolean; maxPayload: number }): PerMessageDeflateExtension;
  readonly extensionName: string;
}

interface ExtensionCodec {
  /** Parse a Sec-WebSocket-Extensions value; throws SyntaxError on bad input. */
  parse(header: string): Record<string, unknown[]>;
  /** Format negotiated extensions as a Sec-WebSocket-Extensions value. */
  format(extensions: Record<string, unknown>): string;
}

interface SubprotocolCodec {
  /** Parse a Sec-WebSocket-Protocol value; throws SyntaxError on bad input or duplicates. */
  parse(header: string): Set<string>;
}

/** Options ws's server passes when it attaches a socket. */
export interface AttachOptions {
  readonly allowSynchronousEvents: boolean;
  readonly maxPayload: number;
  readonly skipUTF8Validation: boolean;
  readonly maxBufferedChunks?: number;
  readonly maxFragments?: number;
}

/** The server-side WebSocket before a socket is attached. */
interface DetachedWebSocket {
  _protocol: string;
  _extensions: Record<string, PerMessageDeflateExtension>;
  setSocket(socket: Duplex, head: Buffer, options: AttachOptions): void;
}

interface ServerWebSocketConstructor {
  new (
    address: null,
    protocols: undefined,
    options: { autoPong: boolean; closeTimeout: number; maxPendingAutoPongs?: number },
  ): WebSocket & DetachedWebSocket;
}

export interface WsExports {
  readonly WebSocket: ServerWebSocketConstructor;
  readonly PerMessageDeflate: PerMessageDeflateConstructor;
  readonly extension: ExtensionCodec;
  readonly subprotocol: SubprotocolCodec;
}

let loaded: WsExports | undefined;

/** The `ws` package, loaded and checked on first use. */
export function wsExports(): WsExports {
  if (loaded !== undefined) return loaded;
  const ws = createRequire(import.meta.url)('ws') as WsExports;
  if (
    typeof ws.WebSocket?.prototype?.setSocket !== 'function' ||
    typeof ws.PerMessageDeflate !== 'function' ||
    typeof ws.extension?.parse !== 'function' ||
    typeof ws.extension?.format !== 'function' ||
    typeof ws.subprotocol?.parse !== 'function'
  ) {
    throw new Error('the installed "ws" package does not provide the server attachment API of ws 8 (setSocket, PerMessageDeflate, extension, subprotocol)');
  }
  return (loaded = ws);
}

export interface ServerSocketSettings {
  readonly protocol: string;
  readonly extensions: Record<string, PerMessageDeflateExtension>;
  readonly autoPong: boolean;
  readonly closeTimeout: number;
  readonly attach: AttachOptions;
}

/** Create a server-mode WebSocket and attach it to an already upgraded stream. */
export function attachWebSocket(socket: Duplex, settings: ServerSocketSettings): WebSocket {
  const socketWs = new (wsExports().WebSocket)(null, undefined, {
    autoPong: settings.autoPong,
    closeTimeout: settings.closeTimeout,
    maxPendingAutoPongs: 60,
  });
  socketWs._protocol = settings.protocol;
  socketWs._extensions = settings.extensions;
  socketWs.setSocket(socket, Buffer.alloc(0), settings.attach);
  return socketWs;
}
