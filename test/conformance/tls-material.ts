/** A throw-away self-signed certificate for local TLS servers in tests, made with the openssl command. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
  /** PEM files holding key and cert, removed when the process exits. */
  readonly keyFile: string;
  readonly certFile: string;
}

export function selfSignedCertificate(): TlsMaterial | { unavailable: string } {
  const dir = mkdtempSync(join(tmpdir(), 'conformance-tls-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost'],
    { stdio: 'pipe' },
  );
  if (r.error || r.status !== 0) {
    return { unavailable: `openssl could not make a test certificate: ${r.error?.message ?? r.stderr.toString().trim()}` };
  }
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), keyFile, certFile };
}
