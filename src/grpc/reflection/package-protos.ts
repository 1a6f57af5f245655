/**
 * The .proto files shipped in this package's proto/ folder, loaded with
 * protobufjs at run time.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import protobuf from 'protobufjs';

let protoDir: string | undefined;

/** Absolute path of the package's proto/ folder: the nearest one above this module. */
export function packageProtoDir(): string {
  return (protoDir ??= findProtoDir(path.dirname(fileURLToPath(import.meta.url))));
}

function findProtoDir(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'proto');
    if (existsSync(path.join(candidate, 'grpc', 'health', 'v1', 'health.proto'))) return candidate;
    if (dir === path.dirname(dir)) throw new Error(`the proto/ folder of httpsys-grpc was not found above ${from}`);
  }
}

const roots = new Map<string, protobuf.Root>();

/** Loads one shipped file (e.g. "grpc/health/v1/health.proto") into its own Root, once. */
export function loadPackageProto(file: string): protobuf.Root {
  let root = roots.get(file);
  if (!root) {
    root = new protobuf.Root();
    root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(packageProtoDir(), target));
    root.loadSync(file, { keepCase: true });
    root.resolveAll();
    roots.set(file, root);
  }
  return root;
}
