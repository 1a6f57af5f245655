/** Summarises a V8 heap snapshot: which object kinds take the most memory (self size) and how many there are. */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapKind {
  readonly kind: string;
  readonly count: number;
  readonly bytes: number;
}

export function summariseHeap(file: string, top = 25): { totalBytes: number; kinds: HeapKind[] } {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const byKind = new Map<string, { count: number; bytes: number }>();
  let totalBytes = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!] ?? '?';
    const name = snap.strings[snap.nodes[i + nameAt]!] ?? '?';
    const size = snap.nodes[i + sizeAt]!;
    // Objects and closures by constructor/function name; everything else by its type.
    const kind =
      type === 'object' || type === 'closure' ? `${type} ${name.length > 60 ? `${name.slice(0, 60)}...` : name}` : `(${type})`;
    const entry = byKind.get(kind) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += size;
    byKind.set(kind, entry);
    totalBytes += size;
  }
  const kinds = [...byKind.entries()]
    .map(([kind, e]) => ({ kind, ...e }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, top);
  return { totalBytes, kinds };
}

/** Object kinds whose count or size grew between two snapshots (e.g. idle and with streams open). */
export function heapGrowth(before: string, after: string, top = 25): HeapKind[] {
  const a = new Map(summariseHeap(before, Number.MAX_SAFE_INTEGER).kinds.map((k) => [k.kind, k]));
  const b = summariseHeap(after, Number.MAX_SAFE_INTEGER).kinds;
  return b
    .map((k) => ({ kind: k.kind, count: k.count - (a.get(k.kind)?.count ?? 0), bytes: k.bytes - (a.get(k.kind)?.bytes ?? 0) }))
    .filter((k) => k.bytes > 0)
    .sort((x, y) => y.bytes - x.bytes)
    .slice(0, top);
}
