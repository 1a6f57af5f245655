/**
 * Readable names for the numeric SChannel values in HTTP_SSL_PROTOCOL_INFO
 * (SP_PROT_* protocol bits and CryptoAPI ALG_IDs).
 */
import type { TlsInfo } from '../types.js';

/** SP_PROT_* server|client bit pairs (schannel.h). */
const PROTOCOLS: readonly (readonly [bits: number, name: string])[] = [
  [0x00001000 | 0x00002000, 'TLSv1.3'],
  [0x00000400 | 0x00000800, 'TLSv1.2'],
  [0x00000100 | 0x00000200, 'TLSv1.1'],
  [0x00000040 | 0x00000080, 'TLSv1'],
  [0x00000010 | 0x00000020, 'SSLv3'],
  [0x00000004 | 0x00000008, 'SSLv2'],
  [0x00000001 | 0x00000002, 'PCT1'],
  [0x00040000 | 0x00080000, 'DTLSv1.2'],
  [0x00010000 | 0x00020000, 'DTLSv1'],
];

/** Protocol name in Node's spelling ("TLSv1.3"), or undefined for 0 / unknown bits. */
export function tlsProtocolName(protocol: number): string | undefined {
  for (const [bits, name] of PROTOCOLS) if ((protocol & bits) !== 0) return name;
  return undefined;
}

/** CryptoAPI ALG_IDs (wincrypt.h) for bulk ciphers. */
const CIPHERS: ReadonlyMap<number, string> = new Map([
  [0x6601, 'DES'],
  [0x6602, 'RC2'],
  [0x6603, '3DES'],
  [0x6609, '3DES-112'],
  [0x660e, 'AES-128'],
  [0x660f, 'AES-192'],
  [0x6610, 'AES-256'],
  [0x6611, 'AES'],
  [0x6801, 'RC4'],
  [0x6000, 'NULL'],
]);

/** CryptoAPI ALG_IDs for hashes / MACs. */
const HASHES: ReadonlyMap<number, string> = new Map([
  [0x8003, 'MD5'],
  [0x8004, 'SHA1'],
  [0x800c, 'SHA256'],
  [0x800d, 'SHA384'],
  [0x800e, 'SHA512'],
]);

/** CryptoAPI ALG_IDs for key exchange. */
const KEY_EXCHANGES: ReadonlyMap<number, string> = new Map([
  [0xa400, 'RSA'],
  [0xaa01, 'DH'],
  [0xaa02, 'DHE'],
  [0xaa05, 'ECDH'],
  [0xae06, 'ECDHE'],
]);

function algName(table: ReadonlyMap<number, string>, id: number): string | undefined {
  if (!id) return undefined;
  return table.get(id) ?? `0x${id.toString(16)}`;
}

/**
 * Cipher description built from the parts SChannel reports, e.g.
 * "ECDHE-AES-256-SHA384". The key size is added when the cipher name does not
 * already carry it ("AES" with strength 128 becomes "AES-128").
 */
export function tlsCipherName(parts: {
  readonly cipherType: number;
  readonly cipherStrength: number;
  readonly hashType: number;
  readonly keyExchangeType: number;
}): string | undefined {
  let cipher = algName(CIPHERS, parts.cipherType);
  if (cipher === undefined) return undefined;
  if ((cipher === 'AES' || cipher === 'RC4' || cipher === 'RC2') && parts.cipherStrength > 0) {
    cipher = `${cipher}-${parts.cipherStrength}`;
  }
  const kx = algName(KEY_EXCHANGES, parts.keyExchangeType);
  const hash = algName(HASHES, parts.hashType);
  return [kx, cipher, hash].filter((p): p is string => p !== undefined).join('-');
}

/** TLS facts for the contract from the addon's numeric protocol info. */
export function describeTls(
  native:
    | {
        readonly protocol: number;
        readonly cipherType: number;
        readonly cipherStrength: number;
        readonly hashType: number;
        readonly keyExchangeType: number;
      }
    | undefined,
  http2: boolean,
): TlsInfo {
  const info: { protocol?: string; cipher?: string; alpnProtocol?: string } = {};
  if (native) {
    const protocol = tlsProtocolName(native.protocol);
    if (protocol !== undefined) info.protocol = protocol;
    const cipher = tlsCipherName(native);
    if (cipher !== undefined) info.cipher = cipher;
  }
  // Http.sys negotiates h2 only through ALPN; an HTTP/1.x request over TLS may or may not have used ALPN.
  if (http2) info.alpnProtocol = 'h2';
  return info;
}
