/**
 * Services described by protobufjs reflection: .proto files loaded at run time,
 * compiled into method definitions for the server.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { GrpcError } from './error.js';
import { attachFramedCodec, encodeMessage } from './framed-codec.js';
import { lazyServiceDescriptors, withLazyDescriptors } from './reflection/lazy-descriptors.js';
import { Status } from './status.js';
import type { MethodDefinition, MethodHandler, ServiceImplementation } from './types.js';

export interface LoadProtosOptions {
  /** Directories searched for the files and their imports, in order. */
  readonly includeDirs?: readonly string[];
  /** Keep field names as written in the .proto (default false: lowerCamelCase, as protobufjs does). */
  readonly keepCase?: boolean;
}

/** Load .proto files into a protobufjs Root, resolving imports through `includeDirs`; every type is resolved. */
export function loadProtos(files: string | readonly string[], options: LoadProtosOptions = {}): protobuf.Root {
  const root = new protobuf.Root();
  const dirs = options.includeDirs ?? [];
  root.resolvePath = (origin, target) => {
    if (path.isAbsolute(target)) return target;
    for (const dir of dirs) {
      const candidate = path.resolve(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return protobuf.util.path.resolve(origin, target);
  };
  const list = typeof files === 'string' ? [files] : [...files];
  root.loadSync(list, { keepCase: options.keepCase ?? false });
  root.resolveAll();
  return root;
}

function lowerCamel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function unimplemented(path: string): MethodHandler {
  return () => {
    throw new GrpcError(Status.UNIMPLEMENTED, `method ${path} is not implemented`);
  };
}

/**
 * One MethodDefinition per method of `service`, with protobufjs (de)serializers.
 * Handlers are looked up by proto name ("SayHello") or lowerCamel ("sayHello");
 * a method with no handler answers UNIMPLEMENTED.
 */
export function methodsFromService(service: protobuf.Service, implementation: ServiceImplementation): MethodDefinition[] {
  service.resolveAll();
  const serviceName = service.fullName.replace(/^\./, '');
  const known = new Set<string>();
  const descriptors = lazyServiceDescriptors(service);
  const defs: MethodDefinition[] = [];
  for (const method of service.methodsArray) {
    method.resolve();
    const reqType = method.resolvedRequestType;
    const resType = method.resolvedResponseType;
    if (!reqType || !resType) throw new Error(`cannot resolve the message types of ${serviceName}.${method.name}`);
    const methodPath = `/${serviceName}/${method.name}`;
    const camel = lowerCamel(method.name);
    known.add(method.name).add(camel);
    const handler = (implementation[method.name] as MethodHandler | undefined) ?? (implementation[camel] as MethodHandler | undefined) ?? unimplemented(methodPath);
    const Ctor = resType.ctor;
    const toMessage = (message: unknown): protobuf.Message =>
      message instanceof Ctor ? (message as protobuf.Message) : resType.fromObject(message as Record<string, unknown>);
    const def = {
      path: methodPath,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      deserialize: (bytes: Uint8Array) => reqType.decode(bytes),
      serialize: (message: unknown) => encodeMessage(resType, toMessage(message), false),
      handler,
    };
    defs.push(attachFramedCodec(withLazyDescriptors(def, descriptors), reqType, resType, toMessage));
  }
  for (const key of Object.keys(implementation)) {
    if (!known.has(key)) throw new TypeError(`service ${serviceName} has no method ${JSON.stringify(key)}`);
  }
  return defs;
}
