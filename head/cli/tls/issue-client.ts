// `nokube tls client`: one more client certificate signed by the CA of tls.dir, for a person or a tool
// that should reach the heads without a token: CN the name, one O= per ACL policy it is to hold. Written
// to clients/<name>.pem and clients/<name>-key.pem (replacing an earlier one of that name). The policies
// are not checked here (tls.dir is offline): one that does not exist in the cluster grants nothing.
import { DNS_LABEL } from '../../../agent/config/schema.ts';
import { UsageError } from '../../../agent/errors.ts';
import { caProblem, parseCertificate } from '../../../agent/tls/inspect.ts';
import { issueClientCertificate } from '../../../agent/tls/issue.ts';
import { CERT_MODE, KEY_MODE, PKI_FILES } from '../../../agent/tls/layout.ts';
import { checkDirMode, loadCa, writePkiFiles } from './pki-dir.ts';

export interface ClientIssued {
  cert: string;
  key: string;
  notAfter: Date;
}

export async function issueClient(
  dir: string,
  who: { name: string; policies: string[] },
  days: number,
  now: Date,
): Promise<ClientIssued> {
  for (const [what, v] of [['name', who.name], ...who.policies.map((p) => ['--policy', p])] as const)
    if (!DNS_LABEL.test(v))
      throw new UsageError(`${what} ${v}: must be an RFC 1123 label (a-z, 0-9, "-", at most 63 characters)`);
  if (who.policies.length === 0)
    throw new UsageError('name at least one --policy (the certificate grants only what its policies do)');
  await checkDirMode(dir);
  const ca = await loadCa(dir);
  const problem = await caProblem(ca.cert, now);
  if (problem)
    throw new UsageError(
      `tls.dir ${dir}/${PKI_FILES.caCert}: ${problem}: it cannot sign (nokube tls rotate --ca makes a new CA)`,
    );
  const pem = await issueClientCertificate(
    ca,
    { name: who.name, groups: [...new Set(who.policies)] },
    {
      now,
      days,
    },
  );
  const cert = PKI_FILES.clientCert(who.name);
  const key = PKI_FILES.clientKey(who.name);
  await writePkiFiles(
    dir,
    [
      { rel: cert, text: pem.cert, mode: CERT_MODE },
      { rel: key, text: pem.key, mode: KEY_MODE },
    ],
    true,
  );
  return { cert, key, notAfter: parseCertificate(pem.cert).notAfter };
}
