// Certificates for TLS tests, made with openssl (Debian's): a CA, and certificates it signs (server ones
// for an IP address, client ones). Never a mock: no openssl -> the test fails with the install hint.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const OPENSSL = '/usr/bin/openssl';
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface TestCa {
  dir: string;
  cert: string;
  key: string;
}

export interface CertFiles {
  ca: string;
  cert: string;
  key: string;
}

function openssl(args: string[]): void {
  execFileSync(OPENSSL, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA in `dir` (ca.pem, ca.key), valid two days. */
export function makeCa(dir: string): TestCa {
  if (!existsSync(OPENSSL)) throw new Error(`${OPENSSL} not found: apt-get install openssl`);
  const cert = join(dir, 'ca.pem');
  const key = join(dir, 'ca.key');
  openssl(['req', '-x509', ...EC, '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=nokube-test-ca']);
  return { dir, cert, key };
}

/** `<name>.pem` + `<name>.key` signed by the CA, for server and client use; `ip`: its SAN. */
export function signCert(ca: TestCa, name: string, ip?: string): CertFiles {
  const key = join(ca.dir, `${name}.key`);
  const csr = join(ca.dir, `${name}.csr`);
  const cert = join(ca.dir, `${name}.pem`);
  const ext = join(ca.dir, `${name}.ext`);
  openssl(['req', ...EC, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  writeFileSync(ext, `${ip ? `subjectAltName=IP:${ip}\n` : ''}extendedKeyUsage=serverAuth,clientAuth\n`);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    cert,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  return { ca: ca.cert, cert, key };
}
