// `nokube tls init` and `nokube tls rotate`: every certificate of the config made at once, in memory, and
// only then written; a refusal (a CA already there, no CA to rotate with, a loose directory) writes nothing.
import type { ClusterConfig } from '../../../agent/config/schema.ts';
import { UsageError } from '../../../agent/errors.ts';
import { caProblem, parseCertificate } from '../../../agent/tls/inspect.ts';
import {
  type IssuedPem,
  issueCa,
  issueCliCertificate,
  issueNodeCertificate,
  type SigningCa,
} from '../../../agent/tls/issue.ts';
import { CERT_MODE, KEY_MODE, PKI_FILES } from '../../../agent/tls/layout.ts';
import { CA_VALIDITY_DAYS } from '../../../agent/tls/validity.ts';
import { importPrivateKey } from '../../../agent/tls/x509.ts';
import { checkDirMode, existing, keepPrevious, loadCa, type PkiFile, writePkiFiles } from './pki-dir.ts';

export interface IssueResult {
  written: string[];
  /** Files moved aside (the previous CA on `rotate --ca`). */
  kept: string[];
  caNotAfter: Date;
  /** The earliest NotAfter of the certificates issued now (the CA's, when it ends sooner than --days). */
  leafNotAfter: Date;
}

const pair = (cert: string, key: string, pem: IssuedPem): PkiFile[] => [
  { rel: cert, text: pem.cert, mode: CERT_MODE },
  { rel: key, text: pem.key, mode: KEY_MODE },
];

/** Every file `init` writes (and `rotate` replaces, but for the CA) for this config. */
function leafFiles(config: ClusterConfig): string[] {
  return [
    PKI_FILES.cliCert,
    PKI_FILES.cliKey,
    ...config.nodes.flatMap((n) => [PKI_FILES.nodeCert(n.name), PKI_FILES.nodeKey(n.name)]),
  ];
}

async function issueLeaves(ca: SigningCa, config: ClusterConfig, now: Date, days: number) {
  const v = { now, days };
  const files = pair(PKI_FILES.cliCert, PKI_FILES.cliKey, await issueCliCertificate(ca, v));
  for (const node of config.nodes)
    files.push(
      ...pair(
        PKI_FILES.nodeCert(node.name),
        PKI_FILES.nodeKey(node.name),
        await issueNodeCertificate(ca, node, v),
      ),
    );
  const leafNotAfter = parseCertificate(files[0]!.text).notAfter;
  return { files, leafNotAfter };
}

async function signingCa(pem: IssuedPem): Promise<SigningCa> {
  return { cert: parseCertificate(pem.cert), key: await importPrivateKey(pem.key) };
}

/** A new CA, the CLI's certificate and one per node, in an empty (or new) tls.dir. */
export async function initPki(
  config: ClusterConfig,
  dir: string,
  days: number,
  now: Date,
): Promise<IssueResult> {
  await checkDirMode(dir);
  const there = await existing(dir, [PKI_FILES.caCert, PKI_FILES.caKey, ...leafFiles(config)]);
  if (there.length > 0)
    throw new UsageError(
      `tls.dir ${dir} already holds ${there.join(', ')}: not overwriting (nokube tls rotate renews the certificates; rotate --ca makes a new CA)`,
    );
  const caPem = await issueCa(config.cluster, { now, days: CA_VALIDITY_DAYS });
  const ca = await signingCa(caPem);
  const { files, leafNotAfter } = await issueLeaves(ca, config, now, days);
  const all = [...pair(PKI_FILES.caCert, PKI_FILES.caKey, caPem), ...files];
  await writePkiFiles(dir, all, false);
  return { written: all.map((f) => f.rel), kept: [], caNotAfter: ca.cert.notAfter, leafNotAfter };
}

/** New certificates for the CLI and every node of the config, signed by the CA of tls.dir, or (`newCa`) by
 * a new CA, the previous one kept as ca.previous.pem / ca-key.previous.pem. */
export async function rotatePki(
  config: ClusterConfig,
  dir: string,
  days: number,
  newCa: boolean,
  now: Date,
): Promise<IssueResult> {
  await checkDirMode(dir);
  const current = await loadCa(dir);
  let ca: SigningCa = current;
  let caFiles: PkiFile[] = [];
  if (newCa) {
    const caPem = await issueCa(config.cluster, { now, days: CA_VALIDITY_DAYS });
    ca = await signingCa(caPem);
    caFiles = pair(PKI_FILES.caCert, PKI_FILES.caKey, caPem);
  } else {
    const problem = await caProblem(current.cert, now);
    if (problem)
      throw new UsageError(
        `tls.dir ${dir}/${PKI_FILES.caCert}: ${problem}: it cannot sign (nokube tls rotate --ca makes a new CA)`,
      );
  }
  const { files, leafNotAfter } = await issueLeaves(ca, config, now, days);
  const kept = newCa ? await keepPrevious(dir, [PKI_FILES.caCert, PKI_FILES.caKey]) : [];
  const all = [...caFiles, ...files];
  await writePkiFiles(dir, all, true);
  return { written: all.map((f) => f.rel), kept, caNotAfter: ca.cert.notAfter, leafNotAfter };
}
