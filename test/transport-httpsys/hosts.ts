/** Capability reports as the addon describes the two kinds of host (Windows Server 2022, Wine 8). */
import type { NativeCapabilities } from '../../src/native/types.js';

export const windows2022: NativeCapabilities = {
  host: 'windows',
  os: { major: 10, minor: 0, build: 20348 },
  trailers: true,
  reset: true,
  opaqueUpgrade: true,
  http2: true,
  delegation: true,
  cancel: true,
  disconnectNotification: true,
  queueShutdown: true,
  streamingResponses: true,
  namedQueues: true,
  properties: true,
};
export const wine8: NativeCapabilities = {
  host: 'wine',
  wineVersion: '8.0',
  os: { major: 10, minor: 0, build: 19043 },
  trailers: false,
  reset: false,
  opaqueUpgrade: false,
  http2: false,
  delegation: false,
  cancel: false,
  disconnectNotification: false,
  queueShutdown: false,
  streamingResponses: false,
  namedQueues: false,
  properties: false,
};
