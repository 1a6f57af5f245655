/**
 * The parts of google.protobuf.FileDescriptorProto that reflection reads and
 * rewrites, as plain objects (the shape protobufjs' descriptor extension
 * produces with `toObject`). Fields this module does not touch pass through.
 *
 * protobufjs' descriptor extension builds every type of descriptor.proto when
 * it loads (several MiB of resident memory), so it is loaded on first use:
 * a server without reflection never pays for it.
 */
import { createRequire } from 'node:module';
import type protobuf from 'protobufjs';

type DescriptorExtension = typeof import('protobufjs/ext/descriptor.js');

export interface FieldDescriptor {
  name?: string;
  number?: number;
  label?: number;
  type?: number;
  typeName?: string;
  extendee?: string;
  [other: string]: unknown;
}

export interface EnumDescriptor {
  name?: string;
  value?: { name?: string; number?: number; [other: string]: unknown }[];
  [other: string]: unknown;
}

export interface MessageDescriptor {
  name?: string;
  field?: FieldDescriptor[];
  extension?: FieldDescriptor[];
  nestedType?: MessageDescriptor[];
  enumType?: EnumDescriptor[];
  options?: { mapEntry?: boolean; [other: string]: unknown };
  [other: string]: unknown;
}

export interface MethodDescriptor {
  name?: string;
  inputType?: string;
  outputType?: string;
  clientStreaming?: boolean;
  serverStreaming?: boolean;
  [other: string]: unknown;
}

export interface ServiceDescriptor {
  name?: string;
  method?: MethodDescriptor[];
  [other: string]: unknown;
}

export interface FileDescriptor {
  name?: string;
  package?: string;
  dependency?: string[];
  messageType?: MessageDescriptor[];
  enumType?: EnumDescriptor[];
  service?: ServiceDescriptor[];
  extension?: FieldDescriptor[];
  syntax?: string;
  [other: string]: unknown;
}

/** google.protobuf.FieldDescriptorProto.Type values reflection cares about. */
export const FieldType = { MESSAGE: 11, ENUM: 14, GROUP: 10 } as const;

const toObjectOptions: protobuf.IConversionOptions = { longs: Number, enums: Number, bytes: Array, arrays: false };

export interface DescriptorTypes {
  readonly file: protobuf.Type;
  readonly message: protobuf.Type;
  readonly field: protobuf.Type;
  readonly enum: protobuf.Type;
  readonly service: protobuf.Type;
}

let types: DescriptorTypes | undefined;

/**
 * The descriptor.proto message types, from protobufjs' bundled copy. The first
 * call loads protobufjs' descriptor extension, which also gives protobufjs
 * reflection objects their `toDescriptor()` methods.
 */
export function descriptorTypes(): DescriptorTypes {
  if (types === undefined) {
    const ext = createRequire(import.meta.url)('protobufjs/ext/descriptor.js') as DescriptorExtension;
    types = {
      file: ext.FileDescriptorProto,
      message: ext.DescriptorProto,
      field: ext.FieldDescriptorProto,
      enum: ext.EnumDescriptorProto,
      service: ext.ServiceDescriptorProto,
    };
  }
  return types;
}

export function decodeFileDescriptor(bytes: Uint8Array): FileDescriptor {
  const file = descriptorTypes().file;
  return file.toObject(file.decode(bytes), toObjectOptions) as FileDescriptor;
}

export function encodeFileDescriptor(descriptor: FileDescriptor): Uint8Array {
  const file = descriptorTypes().file;
  return file.encode(file.fromObject(descriptor)).finish();
}

/** A protobufjs descriptor message (from `toDescriptor()`) as a plain object. */
export function messageToPlain<T>(type: protobuf.Type, message: protobuf.Message): T {
  return type.toObject(message, toObjectOptions) as T;
}
