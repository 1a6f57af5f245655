// The HPACK static table (RFC 7541 Appendix A) and the lookups the encoder
// uses to find a field in it.

/** Number of entries in the static table; dynamic indexes start after it. */
export const STATIC_TABLE_LENGTH = 61;

const ENTRIES: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** Static entry names by HPACK index (slot 0 is unused). */
export const STATIC_NAMES: readonly string[] = ['', ...ENTRIES.map((e) => e[0])];
/** Static entry values by HPACK index (slot 0 is unused). */
export const STATIC_VALUES: readonly string[] = ['', ...ENTRIES.map((e) => e[1])];

/** What the static table holds for one header name. */
export interface StaticNameEntry {
  /** Lowest index whose name matches. */
  readonly nameIndex: number;
  /** Index of each entry with this name, by value. */
  readonly byValue: ReadonlyMap<string, number>;
}

function buildNameMap(): ReadonlyMap<string, StaticNameEntry> {
  const out = new Map<string, { nameIndex: number; byValue: Map<string, number> }>();
  for (let i = 1; i <= STATIC_TABLE_LENGTH; i++) {
    const name = STATIC_NAMES[i]!;
    let entry = out.get(name);
    if (entry === undefined) {
      entry = { nameIndex: i, byValue: new Map() };
      out.set(name, entry);
    }
    if (!entry.byValue.has(STATIC_VALUES[i]!)) entry.byValue.set(STATIC_VALUES[i]!, i);
  }
  return out;
}

/** Header name → its static entries. */
export const STATIC_BY_NAME: ReadonlyMap<string, StaticNameEntry> = buildNameMap();
