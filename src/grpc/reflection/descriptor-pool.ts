/**
 * An index over serialized FileDescriptorProtos: files by name, the file that
 * declares a symbol or an extension, and each file's transitive dependencies.
 *
 * Descriptors come from several sources (protobufjs roots, @grpc/proto-loader,
 * generated code). Some of them name types relative to their scope or leave
 * the dependency list empty; the pool resolves such names to fully-qualified
 * ones and fills in the missing dependencies, so every answer is a set of
 * files a reflection client can build into a working descriptor pool.
 */
import {
  decodeFileDescriptor,
  encodeFileDescriptor,
  type FieldDescriptor,
  type FileDescriptor,
  type MessageDescriptor,
} from './descriptor-types.js';

type SymbolKind = 'package' | 'message' | 'enum' | 'enumValue' | 'field' | 'extension' | 'service' | 'method';

interface PoolFile {
  readonly name: string;
  descriptor: FileDescriptor;
  bytes: Uint8Array;
  /** Set when the descriptor was changed and must be encoded again. */
  dirty: boolean;
}

export class DescriptorPool {
  readonly #incoming: Uint8Array[] = [];
  readonly #seen = new Set<string>();
  #files = new Map<string, PoolFile>();
  #symbols = new Map<string, { file: string; kind: SymbolKind }>();
  #extensions = new Map<string, Map<number, string>>();
  #built = true;

  /** Adds serialized FileDescriptorProtos. Duplicates are ignored. */
  add(protos: Iterable<Uint8Array>): void {
    for (const bytes of protos) {
      const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
      if (this.#seen.has(key)) continue;
      this.#seen.add(key);
      this.#incoming.push(bytes);
      this.#built = false;
    }
  }

  /** The named file followed by its transitive dependencies, or undefined when unknown. */
  fileByName(name: string): Uint8Array[] | undefined {
    this.#build();
    return this.#files.has(name) ? this.#closure(name) : undefined;
  }

  /** The file declaring a fully-qualified symbol (package, message, enum, service, method, field...) and its dependencies. */
  fileContainingSymbol(symbol: string): Uint8Array[] | undefined {
    this.#build();
    const name = symbol.startsWith('.') ? symbol.slice(1) : symbol;
    const entry = this.#symbols.get(name);
    return entry ? this.#closure(entry.file) : undefined;
  }

  /** The file declaring extension `number` of message type `extendee`, and its dependencies. */
  fileContainingExtension(extendee: string, number: number): Uint8Array[] | undefined {
    this.#build();
    const file = this.#extensions.get(extendee.replace(/^\./, ''))?.get(number);
    return file === undefined ? undefined : this.#closure(file);
  }

  /** Known extension field numbers of a message type, or undefined when the type is unknown. */
  extensionNumbers(extendee: string): number[] | undefined {
    this.#build();
    const name = extendee.replace(/^\./, '');
    if (this.#symbols.get(name)?.kind !== 'message') return undefined;
    return [...(this.#extensions.get(name)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /** Every fully-qualified symbol of one kind, e.g. all services. */
  symbols(kind: SymbolKind): string[] {
    this.#build();
    return [...this.#symbols].filter(([, v]) => v.kind === kind).map(([k]) => k);
  }

  #closure(start: string): Uint8Array[] {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const queue = [start];
    while (queue.length > 0) {
      const name = queue.shift()!;
      if (seen.has(name)) continue;
      seen.add(name);
      const file = this.#files.get(name);
      if (!file) continue;
      if (file.dirty) {
        file.bytes = encodeFileDescriptor(file.descriptor);
        file.dirty = false;
      }
      out.push(file.bytes);
      queue.push(...(file.descriptor.dependency ?? []));
    }
    return out;
  }

  #build(): void {
    if (this.#built) return;
    this.#built = true;
    for (const bytes of this.#incoming.splice(0)) {
      let descriptor: FileDescriptor;
      try {
        descriptor = decodeFileDescriptor(bytes);
      } catch {
        continue; // not a FileDescriptorProto: nothing to index
      }
      const name = descriptor.name || `unnamed_${this.#files.size}.proto`;
      const existing = this.#files.get(name);
      if (existing) {
        if (mergeInto(existing.descriptor, descriptor)) existing.dirty = true;
      } else {
        this.#files.set(name, { name, descriptor: { ...descriptor, name }, bytes, dirty: !descriptor.name });
      }
    }
    this.#symbols = new Map();
    this.#extensions = new Map();
    for (const file of this.#files.values()) this.#indexFile(file);
    for (const file of this.#files.values()) this.#normalize(file);
  }

  #define(name: string, file: string, kind: SymbolKind): void {
    if (!this.#symbols.has(name)) this.#symbols.set(name, { file, kind });
  }

  #indexFile(file: PoolFile): void {
    const d = file.descriptor;
    const pkg = d.package ?? '';
    const join = (scope: string, name: string | undefined): string => (scope ? `${scope}.${name ?? ''}` : name ?? '');
    if (pkg) {
      const parts = pkg.split('.');
      for (let i = 1; i <= parts.length; i++) this.#define(parts.slice(0, i).join('.'), file.name, 'package');
    }
    const enums = (scope: string, list: FileDescriptor['enumType']): void => {
      for (const e of list ?? []) {
        this.#define(join(scope, e.name), file.name, 'enum');
        for (const v of e.value ?? []) this.#define(join(scope, v.name), file.name, 'enumValue');
      }
    };
    const messages = (scope: string, list: MessageDescriptor[] | undefined): void => {
      for (const m of list ?? []) {
        const full = join(scope, m.name);
        this.#define(full, file.name, 'message');
        for (const f of m.field ?? []) this.#define(join(full, f.name), file.name, 'field');
        for (const f of m.extension ?? []) this.#define(join(full, f.name), file.name, 'extension');
        messages(full, m.nestedType);
        enums(full, m.enumType);
      }
    };
    messages(pkg, d.messageType);
    enums(pkg, d.enumType);
    for (const f of d.extension ?? []) this.#define(join(pkg, f.name), file.name, 'extension');
    for (const s of d.service ?? []) {
      const full = join(pkg, s.name);
      this.#define(full, file.name, 'service');
      for (const m of s.method ?? []) this.#define(join(full, m.name), file.name, 'method');
    }
  }

  /** Fully qualifies type names, records extensions and adds missing dependencies. */
  #normalize(file: PoolFile): void {
    const d = file.descriptor;
    const pkg = d.package ?? '';
    const deps = new Set(d.dependency ?? []);
    const before = deps.size;
    let changed = false;
    const use = (ref: string | undefined, scope: string, kinds: readonly SymbolKind[]): string | undefined => {
      if (!ref) return ref;
      const resolved = this.#resolve(ref, scope, kinds);
      if (!resolved) return ref;
      const target = this.#symbols.get(resolved)!.file;
      if (target !== file.name) deps.add(target);
      const qualified = `.${resolved}`;
      if (qualified !== ref) changed = true;
      return qualified;
    };
    const typeKinds = ['message', 'enum'] as const;
    const field = (f: FieldDescriptor, scope: string): void => {
      if (f.typeName) f.typeName = use(f.typeName, scope, typeKinds);
      if (f.extendee) {
        f.extendee = use(f.extendee, scope, ['message']);
        if (f.extendee && f.number !== undefined) {
          const target = f.extendee.slice(1);
          let numbers = this.#extensions.get(target);
          if (!numbers) this.#extensions.set(target, (numbers = new Map()));
          if (!numbers.has(f.number)) numbers.set(f.number, file.name);
        }
      }
    };
    const messages = (scope: string, list: MessageDescriptor[] | undefined): void => {
      for (const m of list ?? []) {
        const full = scope ? `${scope}.${m.name ?? ''}` : m.name ?? '';
        for (const f of m.field ?? []) field(f, full);
        for (const f of m.extension ?? []) field(f, full);
        messages(full, m.nestedType);
      }
    };
    messages(pkg, d.messageType);
    for (const f of d.extension ?? []) field(f, pkg);
    for (const s of d.service ?? []) {
      for (const m of s.method ?? []) {
        m.inputType = use(m.inputType, pkg, ['message']);
        m.outputType = use(m.outputType, pkg, ['message']);
      }
    }
    deps.delete(file.name);
    if (deps.size !== before || changed) {
      d.dependency = [...deps];
      file.dirty = true;
    }
  }

  /** Resolves a possibly relative type reference the way protoc does: innermost scope first. */
  #resolve(ref: string, scope: string, kinds: readonly SymbolKind[]): string | undefined {
    const fits = (name: string): boolean => {
      const entry = this.#symbols.get(name);
      return entry !== undefined && kinds.includes(entry.kind);
    };
    if (ref.startsWith('.')) return fits(ref.slice(1)) ? ref.slice(1) : undefined;
    let current = scope;
    for (;;) {
      const candidate = current ? `${current}.${ref}` : ref;
      if (fits(candidate)) return candidate;
      if (!current) return undefined;
      const dot = current.lastIndexOf('.');
      current = dot < 0 ? '' : current.slice(0, dot);
    }
  }
}

/** Adds the top-level declarations of `extra` that `target` lacks. Returns true when something was added. */
function mergeInto(target: FileDescriptor, extra: FileDescriptor): boolean {
  let added = false;
  const merge = <T extends { name?: string }>(into: T[] | undefined, from: T[] | undefined): T[] | undefined => {
    if (!from?.length) return into;
    const list = into ?? [];
    for (const item of from) {
      if (!list.some((x) => x.name === item.name)) {
        list.push(item);
        added = true;
      }
    }
    return list;
  };
  target.messageType = merge(target.messageType, extra.messageType);
  target.enumType = merge(target.enumType, extra.enumType);
  target.service = merge(target.service, extra.service);
  target.extension = merge(target.extension, extra.extension);
  for (const dep of extra.dependency ?? []) {
    if (!(target.dependency ??= []).includes(dep)) {
      target.dependency.push(dep);
      added = true;
    }
  }
  return added;
}
