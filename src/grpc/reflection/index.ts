/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha): lists the server's
 * services and hands out the FileDescriptorProtos that describe them, so
 * tools such as grpcurl and Postman can call the server without .proto files.
 */
import type { GrpcServer } from '../server.js';
import { Status } from '../status.js';
import type { MethodDefinition } from '../types.js';
import { DescriptorPool } from './descriptor-pool.js';
import { lazyServiceDescriptors, withLazyDescriptors } from './lazy-descriptors.js';
import { loadPackageProto, packageProtoDir } from './package-protos.js';

export { DescriptorPool } from './descriptor-pool.js';
export { fileDescriptorsForService, fileDescriptorsForRoot, type ProtobufjsDescriptorOptions } from './from-protobufjs.js';
export { packageProtoDir } from './package-protos.js';

const VERSIONS = [
  { pkg: 'grpc.reflection.v1', file: 'grpc/reflection/v1/reflection.proto' },
  { pkg: 'grpc.reflection.v1alpha', file: 'grpc/reflection/v1alpha/reflection.proto' },
] as const;

interface ReflectionRequest {
  host?: string;
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type?: string; extension_number?: number };
  all_extension_numbers_of_type?: string;
  list_services?: string;
}

export interface ReflectionOptions {
  /** More FileDescriptorProtos to answer from (e.g. types used only inside Any). */
  readonly extraFileDescriptorProtos?: readonly Uint8Array[];
  /** Leave these services out of list_services (their files are still answered). */
  readonly hiddenServices?: readonly string[];
}

/** Answers reflection requests from what a GrpcServer has registered, read at each request. */
export class ReflectionService {
  readonly #server: GrpcServer;
  readonly #pool = new DescriptorPool();
  readonly #added = new WeakSet<readonly Uint8Array[]>();
  readonly #hidden: ReadonlySet<string>;

  constructor(server: GrpcServer, options: ReflectionOptions = {}) {
    this.#server = server;
    this.#hidden = new Set(options.hiddenServices ?? []);
    if (options.extraFileDescriptorProtos) this.#pool.add(options.extraFileDescriptorProtos);
  }

  /** ServerReflectionInfo for v1 and v1alpha, for `server.registerMethod`. */
  methods(): MethodDefinition[] {
    return VERSIONS.map(({ pkg, file }) => {
      const root = loadPackageProto(file);
      const service = root.lookupService(`${pkg}.ServerReflection`);
      const requestType = root.lookupType(`${pkg}.ServerReflectionRequest`);
      const responseType = root.lookupType(`${pkg}.ServerReflectionResponse`);
      const self = this;
      return withLazyDescriptors({
        path: `/${pkg}.ServerReflection/ServerReflectionInfo`,
        requestStream: true,
        responseStream: true,
        deserialize: (bytes: Uint8Array) => requestType.toObject(requestType.decode(bytes), { longs: Number }) as ReflectionRequest,
        serialize: (message: unknown) => responseType.encode(responseType.fromObject(message as Record<string, unknown>)).finish(),
        handler: async function* (requests: AsyncIterable<unknown>) {
          for await (const request of requests) yield self.answer(request as ReflectionRequest);
        },
      }, lazyServiceDescriptors(service, { baseDir: packageProtoDir() }));
    });
  }

  /** One ServerReflectionResponse (as a plain object) for one request. */
  answer(request: ReflectionRequest): Record<string, unknown> {
    const base = { valid_host: request.host ?? '', original_request: request };
    const files = (found: Uint8Array[] | undefined, what: string): Record<string, unknown> =>
      found
        ? { ...base, file_descriptor_response: { file_descriptor_proto: found } }
        : { ...base, error_response: { error_code: Status.NOT_FOUND, error_message: `${what} not found` } };
    this.#refresh();
    if (request.list_services !== undefined) {
      const names = this.#server.services().map((s) => s.name).filter((n) => !this.#hidden.has(n));
      return { ...base, list_services_response: { service: names.map((name) => ({ name })) } };
    }
    if (request.file_by_filename !== undefined) {
      return files(this.#pool.fileByName(request.file_by_filename), `file ${JSON.stringify(request.file_by_filename)}`);
    }
    if (request.file_containing_symbol !== undefined) {
      const symbol = request.file_containing_symbol;
      return files(this.#pool.fileContainingSymbol(symbol), `symbol ${JSON.stringify(symbol)}`);
    }
    if (request.file_containing_extension !== undefined) {
      const { containing_type: type = '', extension_number: number = 0 } = request.file_containing_extension;
      return files(this.#pool.fileContainingExtension(type, number), `extension ${number} of ${JSON.stringify(type)}`);
    }
    if (request.all_extension_numbers_of_type !== undefined) {
      const type = request.all_extension_numbers_of_type;
      const numbers = this.#pool.extensionNumbers(type);
      if (numbers === undefined) {
        return { ...base, error_response: { error_code: Status.NOT_FOUND, error_message: `type ${JSON.stringify(type)} not found` } };
      }
      return { ...base, all_extension_numbers_response: { base_type_name: type.replace(/^\./, ''), extension_number: numbers } };
    }
    return {
      ...base,
      error_response: { error_code: Status.INVALID_ARGUMENT, error_message: 'the request sets none of the known message_request fields' },
    };
  }

  #refresh(): void {
    for (const { fileDescriptorProtos } of this.#server.services()) {
      if (fileDescriptorProtos.length === 0 || this.#added.has(fileDescriptorProtos)) continue;
      this.#added.add(fileDescriptorProtos);
      this.#pool.add(fileDescriptorProtos);
    }
  }
}

/**
 * Serves grpc.reflection.v1 and v1alpha on `server`, describing every service
 * registered on it (also ones added later).
 */
export function addReflectionService(server: GrpcServer, options: ReflectionOptions = {}): ReflectionService {
  const reflection = new ReflectionService(server, options);
  for (const def of reflection.methods()) server.registerMethod(def);
  return reflection;
}
