// Install hook. On Windows it makes sure a usable addon exists: the prebuilt
// binary in prebuilds/win32-x64 is used as is, and only when none fits does
// node-gyp-build compile binding.gyp (which needs Visual Studio). Everywhere
// else the package is pure JavaScript (the portable backend) and nothing is built.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

if (process.platform !== 'win32') process.exit(0);

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
const bin = require.resolve('node-gyp-build/bin.js');
const r = spawnSync(process.execPath, [bin], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
