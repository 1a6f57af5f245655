/** Summarises a V8 .cpuprofile (from node --cpu-prof) as the functions with the most self time. */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export interface FrameSummary {
  readonly name: string;
  readonly location: string;
  readonly selfPercent: number;
  readonly selfMs: number;
}

function shortUrl(url: string): string {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

export function summariseProfile(file: string, top = 25): { totalMs: number; frames: FrameSummary[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
  }
  const merged = new Map<string, { name: string; location: string; us: number }>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    const location = url ? `${shortUrl(url)}:${lineNumber + 1}` : shortUrl(url);
    const key = `${name}@${location}`;
    const entry = merged.get(key) ?? { name, location, us: 0 };
    entry.us += us;
    merged.set(key, entry);
    totalUs += us;
  }
  const frames = [...merged.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ name: e.name, location: e.location, selfMs: e.us / 1000, selfPercent: (100 * e.us) / (totalUs || 1) }));
  return { totalMs: totalUs / 1000, frames };
}

/** Self time grouped by where the code lives (this package, a dependency, node internals, native/GC). */
export function summariseByArea(file: string): { area: string; percent: number }[] {
  const { frames } = summariseProfile(file, Number.MAX_SAFE_INTEGER);
  const areas = new Map<string, number>();
  for (const f of frames) {
    let area: string;
    if (f.location.startsWith('node:')) area = `node:${f.location.slice(5).split('/')[0]?.split(':')[0] ?? ''}`;
    else if (f.location.startsWith('dist/src/')) area = f.location.split(':')[0]!.split('/').slice(0, 4).join('/');
    else if (f.location === '(native)') area = f.name.startsWith('(') ? f.name : '(native)';
    else area = f.location.split('/')[0] ?? f.location;
    areas.set(area, (areas.get(area) ?? 0) + f.selfPercent);
  }
  return [...areas.entries()].map(([area, percent]) => ({ area, percent })).sort((a, b) => b.percent - a.percent);
}

/**
 * Inclusive time (self plus everything called from it) of the functions whose
 * location contains `where`, e.g. "dist/src/" for this package's own code.
 */
export function summariseInclusive(file: string, where: string, top = 25): FrameSummary[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const keyOf = (node: ProfileNode): { key: string; name: string; location: string } => {
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    const location = url ? `${shortUrl(url)}:${lineNumber + 1}` : shortUrl(url);
    return { key: `${name}@${location}`, name, location };
  };
  const totals = new Map<string, { name: string; location: string; us: number }>();
  let totalUs = 0;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const us = deltas[i + 1] ?? deltas[i] ?? 0;
    const leaf = byId.get(samples[i]!);
    if (!leaf || leaf.callFrame.functionName === '(idle)') continue;
    totalUs += us;
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id)!;
      const { key, name, location } = keyOf(node);
      if (!location.includes(where) || seen.has(key)) continue;
      seen.add(key);
      const entry = totals.get(key) ?? { name, location, us: 0 };
      entry.us += us;
      totals.set(key, entry);
    }
  }
  return [...totals.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ name: e.name, location: e.location, selfMs: e.us / 1000, selfPercent: (100 * e.us) / (totalUs || 1) }));
}
