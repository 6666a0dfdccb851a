// `nokube tls status`: one row per certificate of tls.dir — the CA, the CLI's, one per node of the config
// (and those of nodes no longer in it), those `nokube tls client` made in clients/ — with what a renewal needs: who it names, until when, a mark when
// under WARN_DAYS days are left or something is wrong.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterConfig } from '../../../agent/config/schema.ts';
import {
  type Certificate,
  caProblem,
  daysLeft,
  expiryState,
  nodeFitProblem,
  parseCertificate,
  signerProblem,
  subjectAltNames,
} from '../../../agent/tls/inspect.ts';
import { PKI_FILES } from '../../../agent/tls/layout.ts';
import { WARN_DAYS } from '../../../agent/tls/validity.ts';

export interface StatusRow {
  file: string;
  subject: string;
  sans: string;
  notAfter: string;
  daysLeft: string;
  /** Empty when all is well; else what is wrong, `!`-marked. */
  mark: string;
  /** Expired, missing, unreadable, or not from this CA: the command exits non-zero. */
  failed: boolean;
}

async function readCert(path: string): Promise<Certificate | string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (err as Error).message;
  }
  try {
    return parseCertificate(pem);
  } catch (err) {
    return (err as Error).message;
  }
}

/** The names of the client certificates `nokube tls client` made (clients/<name>.pem). */
export async function clientNames(dir: string): Promise<string[]> {
  return (await readdir(join(dir, PKI_FILES.clientsDir)).catch(() => [] as string[]))
    .filter((f) => f.endsWith('.pem') && !f.endsWith('-key.pem'))
    .map((f) => f.slice(0, -'.pem'.length))
    .sort();
}

export async function pkiStatus(config: ClusterConfig, dir: string, now: Date): Promise<StatusRow[]> {
  const inConfig = new Set(config.nodes.map((n) => n.name));
  const others = (await readdir(join(dir, PKI_FILES.nodesDir)).catch(() => [] as string[]))
    .filter((f) => f.endsWith('.pem') && !f.endsWith('-key.pem') && !f.endsWith('.previous.pem'))
    .map((f) => f.slice(0, -'.pem'.length))
    .filter((n) => !inConfig.has(n))
    .sort();
  const clients = await clientNames(dir);
  const nodeRows = config.nodes.length + others.length;
  const rels = [
    PKI_FILES.caCert,
    PKI_FILES.cliCert,
    ...config.nodes.map((n) => PKI_FILES.nodeCert(n.name)),
    ...others.map((n) => PKI_FILES.nodeCert(n)),
    ...clients.map((n) => PKI_FILES.clientCert(n)),
  ];
  const certs = await Promise.all(rels.map((r) => readCert(join(dir, r))));
  const first = certs[0];
  const ca = typeof first === 'string' ? undefined : first;
  return Promise.all(
    certs.map(async (c, i): Promise<StatusRow> => {
      const file = rels[i]!;
      if (typeof c === 'string')
        return { file, subject: '', sans: '', notAfter: '', daysLeft: '', mark: `! ${c}`, failed: true };
      const row = {
        file,
        subject: c.subject,
        sans: subjectAltNames(c).join(',') || '-',
        notAfter: c.notAfter.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        daysLeft: String(daysLeft(c.notAfter, now)),
      };
      const state = expiryState(c.notAfter, now);
      if (state === 'expired') return { ...row, mark: '! EXPIRED', failed: true };
      const signer = i === 0 ? await caProblem(c, now) : ca && (await signerProblem(c, ca));
      if (signer) return { ...row, mark: `! ${signer}`, failed: true };
      const isNode = i >= 2 && i < 2 + nodeRows;
      const node = isNode ? config.nodes[i - 2] : undefined;
      const misfit = node && nodeFitProblem(c, node);
      if (misfit) return { ...row, mark: `! ${misfit}`, failed: true };
      const notes: string[] = [];
      if (state === 'expiring') notes.push(`! under ${WARN_DAYS} days left`);
      if (isNode && !node) notes.push('not in the config');
      return { ...row, mark: notes.join('; '), failed: false };
    }),
  );
}
