/**
 * Builds google.protobuf.FileDescriptorProtos from a protobufjs Root, one per
 * .proto file the root was loaded from, with fully-qualified type names and
 * the dependency list filled in, so reflection clients can rebuild the types.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import {
  descriptorTypes,
  encodeFileDescriptor,
  messageToPlain,
  type EnumDescriptor,
  type FieldDescriptor,
  type FileDescriptor,
  type MessageDescriptor,
  type ServiceDescriptor,
} from './descriptor-types.js';

export interface ProtobufjsDescriptorOptions {
  /**
   * Directory that file names are made relative to (the include directory the
   * .proto files were loaded from). Default: a file another file imports is
   * named as that import says ("shop/common.proto"); the others relative to
   * the include directory this reveals, else to the deepest directory holding
   * every file of the root.
   */
  readonly baseDir?: string;
}

/** Where protobufjs' built-in copies of the well-known types would live as files. */
const wellKnownFiles: Readonly<Record<string, string>> = {
  Any: 'any',
  Duration: 'duration',
  Timestamp: 'timestamp',
  Empty: 'empty',
  Struct: 'struct',
  Value: 'struct',
  ListValue: 'struct',
  NullValue: 'struct',
  DoubleValue: 'wrappers',
  FloatValue: 'wrappers',
  Int64Value: 'wrappers',
  UInt64Value: 'wrappers',
  Int32Value: 'wrappers',
  UInt32Value: 'wrappers',
  BoolValue: 'wrappers',
  StringValue: 'wrappers',
  BytesValue: 'wrappers',
  FieldMask: 'field_mask',
};

type TopLevel = protobuf.Type | protobuf.Enum | protobuf.Service | protobuf.Field;

interface BuiltFile {
  readonly descriptor: FileDescriptor;
  readonly dependencies: Set<string>;
  bytes?: Uint8Array;
}

const cache = new WeakMap<protobuf.Root, Map<string, Map<string, BuiltFile>>>();

/**
 * Serialized FileDescriptorProtos for the file that defines `service`,
 * followed by every file it depends on (transitively).
 */
export function fileDescriptorsForService(
  service: protobuf.Service,
  options: ProtobufjsDescriptorOptions = {},
): Uint8Array[] {
  const root = exactRoot(service.root);
  const found = root === service.root ? service : root.lookup(service.fullName);
  const target = found instanceof protobuf.Service ? found : service;
  const files = filesOfRoot(target.root, options);
  const start = fileNameOf(target, fileNamesFor(target.root, options));
  return closure(files, [start]);
}

/** Serialized FileDescriptorProtos for every file of a protobufjs Root. */
export function fileDescriptorsForRoot(root: protobuf.Root, options: ProtobufjsDescriptorOptions = {}): Uint8Array[] {
  const files = filesOfRoot(exactRoot(root), options);
  return closure(files, [...files.keys()]);
}

const exactRoots = new WeakMap<protobuf.Root, protobuf.Root>();

/**
 * Roots loaded without keepCase hold camelCased field names; descriptors must
 * carry the names written in the .proto. So the files are read again, names
 * kept, with the root's own import resolution. A root not loaded from files
 * (or whose files are gone) is used as it is.
 */
function exactRoot(root: protobuf.Root): protobuf.Root {
  let exact = exactRoots.get(root);
  if (exact) return exact;
  exact = root;
  const files = root.files.filter((f) => path.isAbsolute(f) && existsSync(f));
  if (files.length > 0) {
    try {
      const copy = new protobuf.Root();
      copy.resolvePath = root.resolvePath;
      copy.loadSync(files, { keepCase: true });
      copy.resolveAll();
      exact = copy;
    } catch {
      exact = root;
    }
  }
  exactRoots.set(root, exact);
  return exact;
}

function closure(files: Map<string, BuiltFile>, start: string[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  const queue = [...start];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const file = files.get(name);
    if (!file) continue;
    file.bytes ??= encodeFileDescriptor(file.descriptor);
    out.push(file.bytes);
    queue.push(...file.dependencies);
  }
  return out;
}

function filesOfRoot(root: protobuf.Root, options: ProtobufjsDescriptorOptions): Map<string, BuiltFile> {
  const key = options.baseDir === undefined ? '' : path.resolve(options.baseDir);
  let perBase = cache.get(root);
  if (!perBase) cache.set(root, (perBase = new Map()));
  const cached = perBase.get(key);
  if (cached) return cached;
  root.resolveAll();
  const names = fileNamesFor(root, options);
  const files = new Map<string, BuiltFile>();
  for (const object of topLevelObjects(root)) addObject(files, object, names);
  for (const file of files.values()) file.descriptor.dependency = [...file.dependencies].sort();
  perBase.set(key, files);
  return files;
}

function* topLevelObjects(ns: protobuf.NamespaceBase): Generator<TopLevel> {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type || nested instanceof protobuf.Enum || nested instanceof protobuf.Service) {
      yield nested;
    } else if (nested instanceof protobuf.Field) {
      yield nested;
    } else if (nested instanceof protobuf.Namespace) {
      yield* topLevelObjects(nested);
    }
  }
}

function addObject(files: Map<string, BuiltFile>, object: TopLevel, names: FileNames): void {
  const name = fileNameOf(object, names);
  let file = files.get(name);
  if (!file) {
    const descriptor: FileDescriptor = { name };
    const pkg = packageOf(object);
    if (pkg) descriptor.package = pkg;
    setSyntax(descriptor, editionOf(object));
    file = { descriptor, dependencies: new Set() };
    files.set(name, file);
  }
  const refs = new Set<protobuf.ReflectionObject>();
  const d = file.descriptor;
  // Loads protobufjs' descriptor extension, which provides toDescriptor().
  const types = descriptorTypes();
  const edition = editionOf(object);
  if (object instanceof protobuf.Type) {
    const message = messageToPlain<MessageDescriptor>(types.message, object.toDescriptor(edition));
    fixMessage(message, object, refs);
    (d.messageType ??= []).push(message);
  } else if (object instanceof protobuf.Enum) {
    (d.enumType ??= []).push(messageToPlain<EnumDescriptor>(types.enum, object.toDescriptor()));
  } else if (object instanceof protobuf.Service) {
    const service = messageToPlain<ServiceDescriptor>(types.service, object.toDescriptor());
    for (const method of object.methodsArray) {
      method.resolve();
      if (method.resolvedRequestType) refs.add(method.resolvedRequestType);
      if (method.resolvedResponseType) refs.add(method.resolvedResponseType);
    }
    (d.service ??= []).push(service);
  } else {
    const field = messageToPlain<FieldDescriptor>(types.field, object.toDescriptor(edition));
    fixField(field, object, refs);
    (d.extension ??= []).push(field);
  }
  for (const ref of refs) {
    const dep = fileNameOf(topLevelOf(ref), names);
    if (dep !== name) file.dependencies.add(dep);
  }
}

function fixMessage(message: MessageDescriptor, type: protobuf.Type, refs: Set<protobuf.ReflectionObject>): void {
  const fields: FieldDescriptor[] = [];
  for (const field of message.field ?? []) {
    const source = type.fields[field.name ?? ''] ?? type.nested?.[field.name ?? ''];
    // An extension declared elsewhere shows up among the extended type's fields; its own file describes it.
    if (source instanceof protobuf.Field && source.declaringField) continue;
    if (source instanceof protobuf.MapField) {
      const entry = message.nestedType?.find((n) => n.options?.mapEntry && n.name === field.typeName);
      const entryName = `${camelCase(source.name)}Entry`;
      field.typeName = `${type.fullName}.${entryName}`;
      if (entry) {
        entry.name = entryName;
        const value = entry.field?.find((f) => f.name === 'value');
        if (value && source.resolvedType) {
          value.typeName = source.resolvedType.fullName;
          refs.add(source.resolvedType);
        }
      }
    } else if (source instanceof protobuf.Field) {
      fixField(field, source, refs);
    }
    if (field.extendee) (message.extension ??= []).push(field);
    else fields.push(field);
  }
  message.field = fields;
  for (const nested of message.nestedType ?? []) {
    if (nested.options?.mapEntry) continue;
    const child = type.nested?.[nested.name ?? ''];
    if (child instanceof protobuf.Type) fixMessage(nested, child, refs);
  }
}

function fixField(field: FieldDescriptor, source: protobuf.Field, refs: Set<protobuf.ReflectionObject>): void {
  source.resolve();
  if (source.resolvedType) {
    field.typeName = source.resolvedType.fullName;
    refs.add(source.resolvedType);
  }
  const extended = source.extensionField?.parent;
  if (source.extend !== undefined && extended) {
    field.extendee = extended.fullName;
    refs.add(extended);
  }
}

/** "my_map" → "MyMap", as protoc names map entry types. */
function camelCase(name: string): string {
  let out = '';
  let upper = true;
  for (const ch of name) {
    if (ch === '_') {
      upper = true;
      continue;
    }
    out += upper ? ch.toUpperCase() : ch;
    upper = false;
  }
  return out;
}

function topLevelOf(object: protobuf.ReflectionObject): TopLevel {
  let current = object;
  while (current.parent && (current.parent instanceof protobuf.Type || current.parent instanceof protobuf.Service)) {
    current = current.parent;
  }
  return current as TopLevel;
}

function packageOf(object: protobuf.ReflectionObject): string {
  const parent = object.parent;
  return parent && !(parent instanceof protobuf.Root) ? parent.fullName.slice(1) : '';
}

function editionOf(object: protobuf.ReflectionObject): string {
  const edition = (object as unknown as { _edition?: unknown })._edition;
  return typeof edition === 'string' && edition ? edition : 'proto2';
}

function setSyntax(file: FileDescriptor, edition: string): void {
  if (edition === 'proto2' || edition === 'proto3') {
    file.syntax = edition;
    return;
  }
  const editions: Record<string, number> = { '2023': 1000, '2024': 1001 };
  file.syntax = 'editions';
  if (editions[edition] !== undefined) file['edition'] = editions[edition];
}

/** Absolute .proto path → the name its FileDescriptorProto gets. */
type FileNames = ReadonlyMap<string, string>;

const namesCache = new WeakMap<protobuf.Root, Map<string, FileNames>>();

function fileNameOf(object: protobuf.ReflectionObject, names: FileNames): string {
  const top = topLevelOf(object);
  if (top.filename) return names.get(top.filename) ?? top.filename.replace(/\\/g, '/');
  const pkg = packageOf(top);
  if (pkg === 'google.protobuf' && wellKnownFiles[top.name]) return `google/protobuf/${wellKnownFiles[top.name]}.proto`;
  return `${pkg ? pkg.replace(/\./g, '/') : 'root'}.proto`;
}

const IMPORT = /^\s*import\s+(?:weak\s+|public\s+)?["']([^"']+)["']\s*;/gm;

function fileNamesFor(root: protobuf.Root, options: ProtobufjsDescriptorOptions): FileNames {
  const key = options.baseDir === undefined ? '' : path.resolve(options.baseDir);
  let perBase = namesCache.get(root);
  if (!perBase) namesCache.set(root, (perBase = new Map()));
  let names = perBase.get(key);
  if (!names) perBase.set(key, (names = computeFileNames(root, options)));
  return names;
}

function computeFileNames(root: protobuf.Root, options: ProtobufjsDescriptorOptions): FileNames {
  const files = [...new Set(root.files.filter((f) => path.isAbsolute(f)))];
  const names = new Map<string, string>();
  const slash = (p: string): string => p.replace(/\\/g, '/');
  if (options.baseDir !== undefined) {
    const base = path.resolve(options.baseDir);
    for (const file of files) names.set(file, slash(path.relative(base, file)));
    return names;
  }
  // Files named by the imports that reach them; the part before the import is an include directory.
  const includeDirs = new Set<string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const m of text.matchAll(IMPORT)) {
      const imported = slash(m[1]!);
      const target = files.find((f) => slash(f).endsWith(`/${imported}`));
      if (target === undefined || names.has(target)) continue;
      names.set(target, imported);
      includeDirs.add(target.slice(0, target.length - imported.length - 1));
    }
  }
  const common = commonDir(files);
  for (const file of files) {
    if (names.has(file)) continue;
    const dir = [...includeDirs].filter((d) => file.startsWith(d + path.sep) || file.startsWith(`${d}/`)).sort((a, b) => b.length - a.length)[0];
    names.set(file, slash(path.relative(dir ?? common, file)));
  }
  return names;
}

function commonDir(files: readonly string[]): string {
  const dirs = files.map((f) => path.dirname(f));
  if (dirs.length === 0) return '';
  let common = dirs[0]!;
  for (const dir of dirs.slice(1)) {
    while (common !== path.dirname(common) && dir !== common && !dir.startsWith(common + path.sep)) {
      common = path.dirname(common);
    }
  }
  return common;
}
