// Is this node's TLS in order? Its three files are there, parse, the certificate chains to the CA, names
// this node with its roles, and the key belongs to it. The agent asks at start (its --tls-* files); the
// deploy asks on the operator's machine before anything is uploaded. Each problem names the file (and the
// flag or config field that gave it); no key material ever appears in a message.
import { readFile } from 'node:fs/promises';
import type { Role } from '../config/schema.ts';
import { AgentStartError } from '../errors.ts';
import { type Certificate, chainProblem, nodeFitProblem, parseCertificate } from './inspect.ts';
import type { NodeTlsFiles } from './layout.ts';
import { publicKeyDerOf } from './x509.ts';

export interface NodeTls {
  files: NodeTlsFiles;
  ca: Certificate;
  cert: Certificate;
}

/** `labels`: how each file is named in messages (a flag such as `--tls-cert`, or `tls.dir`). `fix`: what the
 * operator does about a certificate that does not fit (appended to those messages). */
export async function checkNodeTls(
  files: NodeTlsFiles,
  node: { name: string; address: string; roles: Role[] },
  labels: Record<keyof NodeTlsFiles, string>,
  now: Date,
  fix: string,
): Promise<NodeTls> {
  const fail = (k: keyof NodeTlsFiles, problem: string): never => {
    throw new AgentStartError(`${labels[k]} ${files[k]}: ${problem}`);
  };
  const read = async (k: keyof NodeTlsFiles) => {
    try {
      return await readFile(files[k], 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return fail(k, code === 'ENOENT' ? `missing (${fix})` : (err as Error).message);
    }
  };
  const parse = (k: 'ca' | 'cert', pem: string) => {
    try {
      return parseCertificate(pem);
    } catch (err) {
      return fail(k, (err as Error).message);
    }
  };
  // One after the other: the first problem reported is always the same one.
  const caPem = await read('ca');
  const certPem = await read('cert');
  const keyPem = await read('key');
  const ca = parse('ca', caPem);
  const cert = parse('cert', certPem);
  const chain = await chainProblem(cert, ca, now);
  if (chain) fail(chain.startsWith('the CA certificate') ? 'ca' : 'cert', `${chain} (${fix})`);
  const misfit = nodeFitProblem(cert, node);
  if (misfit) fail('cert', `${misfit} (${fix})`);
  let publicDer: Buffer | undefined;
  try {
    publicDer = publicKeyDerOf(keyPem);
  } catch {
    fail('key', 'not a readable private key (PEM)');
  }
  if (!publicDer?.equals(Buffer.from(cert.publicKey.rawData)))
    fail('key', `the key does not belong to the certificate ${files.cert}`);
  return { files, ca, cert };
}
