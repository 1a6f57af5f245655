/**
 * Locates and loads the native Http.sys addon.
 *
 * On Windows the binary comes from node-gyp-build, searched from the package root:
 * `build/Release` (a local node-gyp or cmake-js build) first, then
 * `prebuilds/win32-x64/node.napi.node` shipped in the package. The environment
 * variable HTTPSYS_GRPC_ADDON may name an explicit `.node` file instead.
 * Everywhere else loading fails with a clear error: the portable backend serves there.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeAddonUnavailableError } from './errors.js';
import type { NativeBinding } from './types.js';

export { NativeAddonUnavailableError } from './errors.js';

const require = createRequire(import.meta.url);
let cached: NativeBinding | undefined;

/** The directory holding this package's package.json (works from src/ and dist/src/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
        if (parsed.name === 'httpsys-grpc') return dir;
      } catch {
        // not ours; keep looking upwards
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new NativeAddonUnavailableError('cannot find the httpsys-grpc package root to load the addon from');
    dir = parent;
  }
}

function checkShape(value: unknown, from: string): NativeBinding {
  const b = value as Partial<Record<keyof NativeBinding, unknown>> | null;
  if (
    b === null ||
    typeof b !== 'object' ||
    typeof b.capabilities !== 'function' ||
    typeof b.ServerSession !== 'function' ||
    typeof b.RequestQueue !== 'function'
  ) {
    throw new NativeAddonUnavailableError(`${from} is not the httpsys-grpc addon (capabilities, ServerSession, RequestQueue missing)`);
  }
  return value as NativeBinding;
}

/** Loads the addon once per process (per worker thread). Throws NativeAddonUnavailableError where it cannot. */
export function loadNative(): NativeBinding {
  if (cached !== undefined) return cached;
  if (process.platform !== 'win32') {
    throw new NativeAddonUnavailableError(
      `the Http.sys backend needs Windows (this is ${process.platform}); use backend 'node'`,
    );
  }
  if (process.arch !== 'x64' && process.env.HTTPSYS_GRPC_ADDON === undefined) {
    throw new NativeAddonUnavailableError(
      `no prebuilt Http.sys addon for ${process.arch}: build one with node-gyp (binding.gyp) or use backend 'node'`,
    );
  }
  const explicit = process.env.HTTPSYS_GRPC_ADDON;
  if (explicit !== undefined && explicit !== '') {
    const file = resolve(explicit);
    try {
      cached = checkShape(require(file), file);
    } catch (err) {
      if (err instanceof NativeAddonUnavailableError) throw err;
      throw new NativeAddonUnavailableError(`HTTPSYS_GRPC_ADDON=${explicit} could not be loaded: ${(err as Error).message}`, { cause: err });
    }
    return cached;
  }
  const root = packageRoot();
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  try {
    cached = checkShape(nodeGypBuild(root), root);
  } catch (err) {
    if (err instanceof NativeAddonUnavailableError) throw err;
    throw new NativeAddonUnavailableError(
      `the Http.sys addon could not be loaded from ${root} (prebuilds/win32-x64 or build/Release): ${(err as Error).message}. ` +
        `Reinstall the package, build it with \`npx node-gyp rebuild\`, or use backend 'node'.`,
      { cause: err },
    );
  }
  return cached;
}
