/** Starts fixtures/httpsys-server.js (a request queue on the Http.sys backend) under Wine. */
import type { NativeCapabilities } from '../../src/native/types.js';
import { startWineNode, type WineHost, type WineProcess } from './harness.js';
import type { HttpSysFixtureConfig } from './fixtures/httpsys-server.js';

export interface HttpSysServer {
  readonly proc: WineProcess;
  readonly capabilities: NativeCapabilities;
  readonly urls: readonly string[];
}

export async function startHttpSysServer(host: WineHost, config: HttpSysFixtureConfig): Promise<HttpSysServer> {
  const proc = startWineNode(host, {
    script: 'dist/test/wine/fixtures/httpsys-server.js',
    name: `httpsys-${config.name}`,
    env: { HTTPSYS_FIXTURE: JSON.stringify(config) },
  });
  try {
    const ready = await proc.nextReport<{ capabilities: NativeCapabilities; urls: string[] }>('ready');
    return { proc, capabilities: ready.capabilities, urls: ready.urls };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

/** What the fixture's `info` route answers. */
export interface InfoEcho {
  readonly fixture: string;
  readonly method: string;
  readonly url: string;
  readonly path: string;
  readonly query: string;
  readonly host: string;
  readonly headers: Record<string, string>;
  readonly rawHeaders: [string, string][];
  readonly httpVersion: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly secure: boolean;
  readonly prefix: string;
  readonly capabilities: {
    readonly trailers: boolean;
    readonly reset: boolean;
    readonly upgrade: boolean;
    readonly http2: boolean;
    readonly streaming: boolean;
  };
}
