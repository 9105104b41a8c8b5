/**
 * A private CA and a server certificate it signs, for the runner endpoint on
 * a developer's machine and in tests (production uses a real certificate).
 * Runners trust the CA file (trd-worker --tls-ca). Made with the openssl CLI:
 * Node can use certificates but not issue them. Rustls, in the runner's
 * Temporal client, refuses a CA certificate used as the server's own, hence
 * the two steps.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LocalTls {
  key: string;
  cert: string;
  caFile: string;
  /** The name the certificate is for (the runner's --tls-server-name). */
  serverName: string;
}

export function localTls(dir: string): LocalTls {
  mkdirSync(dir, { recursive: true });
  const f = (name: string) => join(dir, name);
  if (!existsSync(f('server.pem'))) {
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '825', '-subj', '/CN=TRD local runner endpoint CA');
    openssl('req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost');
    openssl(
      'x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '825',
      '-extfile', writeExt(f('server.ext')),
    );
  }
  return { key: readFileSync(f('server.key'), 'utf8'), cert: readFileSync(f('server.pem'), 'utf8'), caFile: f('ca.pem'), serverName: 'localhost' };
}

function writeExt(path: string): string {
  execFileSync('sh', ['-c', `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=critical,CA:FALSE\\nkeyUsage=digitalSignature\\nextendedKeyUsage=serverAuth\\n' > "${path}"`]);
  return path;
}
