/**
 * File descriptors for a method definition, built when something first reads
 * them (reflection, `GrpcServer.services()`), not when the service is added:
 * building them loads protobufjs' descriptor extension, which a server that
 * never answers reflection does not need.
 */
import type protobuf from 'protobufjs';
import type { MethodDefinition } from '../types.js';
import { fileDescriptorsForService, type ProtobufjsDescriptorOptions } from './from-protobufjs.js';

/** A memoised `fileDescriptorsForService`; undefined when the service cannot be described. */
export function lazyServiceDescriptors(
  service: protobuf.Service,
  options?: ProtobufjsDescriptorOptions,
): () => readonly Uint8Array[] | undefined {
  let done = false;
  let value: readonly Uint8Array[] | undefined;
  return () => {
    if (!done) {
      done = true;
      try {
        value = fileDescriptorsForService(service, options);
      } catch {
        value = undefined;
      }
    }
    return value;
  };
}

/** `def` with `fileDescriptorProtos` as an enumerable getter over `get`. */
export function withLazyDescriptors<T extends Omit<MethodDefinition, 'fileDescriptorProtos'>>(
  def: T,
  get: () => readonly Uint8Array[] | undefined,
): T & MethodDefinition {
  return Object.defineProperty(def, 'fileDescriptorProtos', { get, enumerable: true, configurable: true }) as T & MethodDefinition;
}
