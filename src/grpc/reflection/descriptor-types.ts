/**
 * The parts of google.protobuf.FileDescriptorProto that reflection reads and
 * rewrites, as plain objects (the shape protobufjs' descriptor extension
 * produces with `toObject`). Fields this module does not touch pass through.
 */
import protobuf from 'protobufjs';
import descriptorExt from 'protobufjs/ext/descriptor.js';

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

/** The descriptor.proto message types, from protobufjs' bundled copy. */
export const descriptorTypes = {
  file: descriptorExt.FileDescriptorProto,
  message: descriptorExt.DescriptorProto,
  field: descriptorExt.FieldDescriptorProto,
  enum: descriptorExt.EnumDescriptorProto,
  service: descriptorExt.ServiceDescriptorProto,
};

export function decodeFileDescriptor(bytes: Uint8Array): FileDescriptor {
  const message = descriptorTypes.file.decode(bytes);
  return descriptorTypes.file.toObject(message, toObjectOptions) as FileDescriptor;
}

export function encodeFileDescriptor(file: FileDescriptor): Uint8Array {
  return descriptorTypes.file.encode(descriptorTypes.file.fromObject(file)).finish();
}

/** A protobufjs descriptor message (from `toDescriptor()`) as a plain object. */
export function messageToPlain<T>(type: protobuf.Type, message: protobuf.Message): T {
  return type.toObject(message, toObjectOptions) as T;
}
