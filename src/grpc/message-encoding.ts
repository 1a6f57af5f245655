/**
 * grpc-message percent-encoding: the UTF-8 bytes of the message, with every
 * byte outside %x20-%x24 and %x26-%x7E written as %XX.
 */
const HEX = '0123456789ABCDEF';
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function plain(c: number): boolean {
  return c >= 0x20 && c <= 0x7e && c !== 0x25;
}

export function encodeGrpcMessage(message: string): string {
  let i = 0;
  while (i < message.length && plain(message.charCodeAt(i))) i++;
  if (i === message.length) return message;
  const bytes = encoder.encode(message);
  let out = '';
  for (const b of bytes) out += plain(b) ? String.fromCharCode(b) : '%' + HEX[b >> 4] + HEX[b & 15];
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Decode a grpc-message value. A `%` not followed by two hex digits is kept as
 * it is; bytes that do not form UTF-8 leave the raw value unchanged.
 */
export function decodeGrpcMessage(value: string): string {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25 && i + 2 < value.length) {
      const hi = hexValue(value.charCodeAt(i + 1));
      const lo = hexValue(value.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        bytes.push(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    if (c > 0xff) return value;
    bytes.push(c);
  }
  try {
    return decoder.decode(new Uint8Array(bytes));
  } catch {
    return value;
  }
}
