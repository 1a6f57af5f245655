/**
 * Recognising grpc-js service definitions (from @grpc/proto-loader +
 * grpc.loadPackageDefinition, or generated grpc-js code) by their shape.
 */

/** One method of a grpc-js service definition (what proto-loader and generated code produce). */
export interface GrpcJsMethodDefinition<Req = unknown, Res = unknown> {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  requestDeserialize(bytes: Buffer): Req;
  responseSerialize(message: Res): Buffer;
  readonly originalName?: string;
  /** proto-loader keeps the serialized FileDescriptorProtos of the whole load here. */
  readonly requestType?: { readonly fileDescriptorProtos?: readonly Uint8Array[] };
}

/** A grpc-js ServiceDefinition: method name → method definition. */
export type GrpcJsServiceDefinition = Readonly<Record<string, GrpcJsMethodDefinition>>;

/** A grpc-js service definition, or a client constructor from loadPackageDefinition (its `.service`). */
export type GrpcJsServiceDefinitionInput = GrpcJsServiceDefinition | { readonly service: GrpcJsServiceDefinition };

function isMethodDefinition(value: unknown): value is GrpcJsMethodDefinition {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['path'] === 'string' &&
    typeof v['requestStream'] === 'boolean' &&
    typeof v['responseStream'] === 'boolean' &&
    typeof v['requestDeserialize'] === 'function' &&
    typeof v['responseSerialize'] === 'function'
  );
}

/** True for a grpc-js ServiceDefinition (or a client constructor carrying one as `.service`). */
export function isGrpcJsServiceDefinition(value: unknown): value is GrpcJsServiceDefinitionInput {
  const definition = unwrapGrpcJsDefinition(value);
  if (!definition) return false;
  const methods = Object.values(definition);
  return methods.length > 0 && methods.every(isMethodDefinition);
}

/** The method map of a definition, or of the client constructor carrying it as `.service`. */
export function unwrapGrpcJsDefinition(value: unknown): GrpcJsServiceDefinition | undefined {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  const service = (value as { service?: unknown }).service;
  if (service !== null && typeof service === 'object') return service as GrpcJsServiceDefinition;
  return typeof value === 'object' ? (value as GrpcJsServiceDefinition) : undefined;
}
