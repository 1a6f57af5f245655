/** Reads the DLL imports and named exports of a PE32+ (x64 Windows) image, enough to check a built addon. */
import { readFileSync } from 'node:fs';

export interface PeFacts {
  readonly machine: number;
  readonly isDll: boolean;
  readonly imports: readonly string[];
  readonly exports: readonly string[];
}

export function readPeFacts(file: string): PeFacts {
  const b = readFileSync(file);
  if (b.length < 0x40 || b.toString('latin1', 0, 2) !== 'MZ') throw new Error(`${file}: not a PE image (no MZ header)`);
  const pe = b.readUInt32LE(0x3c);
  if (b.toString('latin1', pe, pe + 4) !== 'PE\0\0') throw new Error(`${file}: no PE signature`);
  const coff = pe + 4;
  const machine = b.readUInt16LE(coff);
  const sections = b.readUInt16LE(coff + 2);
  const optionalSize = b.readUInt16LE(coff + 16);
  const characteristics = b.readUInt16LE(coff + 18);
  const opt = coff + 20;
  if (b.readUInt16LE(opt) !== 0x20b) throw new Error(`${file}: not PE32+`);
  const dirs = opt + 112;
  const sectionTable = opt + optionalSize;
  const toOffset = (rva: number): number => {
    for (let i = 0; i < sections; i++) {
      const s = sectionTable + i * 40;
      const va = b.readUInt32LE(s + 12);
      const size = Math.max(b.readUInt32LE(s + 8), b.readUInt32LE(s + 16));
      if (rva >= va && rva < va + size) return rva - va + b.readUInt32LE(s + 20);
    }
    throw new Error(`${file}: RVA 0x${rva.toString(16)} is outside every section`);
  };
  const cString = (rva: number): string => {
    const at = toOffset(rva);
    const end = b.indexOf(0, at);
    return b.toString('latin1', at, end);
  };
  const imports: string[] = [];
  const importRva = b.readUInt32LE(dirs + 8);
  if (importRva !== 0) {
    for (let d = toOffset(importRva); ; d += 20) {
      const nameRva = b.readUInt32LE(d + 12);
      if (nameRva === 0) break;
      imports.push(cString(nameRva));
    }
  }
  const exports: string[] = [];
  const exportRva = b.readUInt32LE(dirs);
  if (exportRva !== 0) {
    const e = toOffset(exportRva);
    const count = b.readUInt32LE(e + 24);
    const names = toOffset(b.readUInt32LE(e + 32));
    for (let i = 0; i < count; i++) exports.push(cString(b.readUInt32LE(names + i * 4)));
  }
  return { machine, isDll: (characteristics & 0x2000) !== 0, imports, exports };
}
