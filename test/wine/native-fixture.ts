/**
 * Starts fixtures/native-server.js (the raw addon serving HTTP) under Wine and
 * waits until it is serving.
 */
import type { NativeCapabilities } from '../../src/native/types.js';
import { startWineNode, type WineHost, type WineProcess } from './harness.js';
import type { FixtureConfig } from './fixtures/native-server.js';

export interface NativeServer {
  readonly proc: WineProcess;
  readonly capabilities: NativeCapabilities;
  /** The Windows process id node.exe reports. */
  readonly pid: number;
}

export async function startNativeServer(host: WineHost, config: FixtureConfig): Promise<NativeServer> {
  const proc = startWineNode(host, {
    script: 'dist/test/wine/fixtures/native-server.js',
    name: config.name,
    env: { FIXTURE_CONFIG: JSON.stringify(config) },
  });
  try {
    const ready = await proc.nextReport<{ capabilities: NativeCapabilities; pid: number }>('ready');
    return { proc, capabilities: ready.capabilities, pid: ready.pid };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

/** Why a Wine test cannot run, or undefined when it can. */
export function unavailableReason(host: WineHost | { unavailable: string }): string | undefined {
  if ('unavailable' in host) return `Wine tier unavailable: ${host.unavailable}`;
  if (!host.addon) return host.addonProblem ?? 'the Windows addon is not built (npm run build:win)';
  return undefined;
}
