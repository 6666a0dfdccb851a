// Issuing the cluster's certificates: the CA (self-signed), one certificate per node (server and client
// at once: the node serves the head API, etcd and its peers with it and is known to them by it) and the
// CLI's client certificate. Pure but for the random keys: the clock and the validity come in, PEM text
// goes out; where it is written is the caller's business (head/cli/tls/).
import { isIP } from 'node:net';
import type { Role } from '../config/schema.ts';
import { BACKDATE_MS, DAY_MS } from './validity.ts';
import { type CryptoKey, newKeyPair, privateKeyPem, SIGNING_ALGORITHM, x509 } from './x509.ts';

/** The subject's organizational unit tells what a certificate is for (certificateIdentity reads it). */
export const UNIT = { ca: 'nokube-ca', node: 'nokube-node', client: 'nokube-client' } as const;
/** The CLI's certificate: CN `cli`, group (O) `ops-admin`: it is the operator's, with every right. */
export const CLI_SUBJECT = { name: 'cli', group: 'ops-admin' } as const;

export interface IssuedPem {
  cert: string;
  key: string;
}

/** A CA able to sign: its certificate and private key. */
export interface SigningCa {
  cert: x509.X509Certificate;
  key: CryptoKey;
}

export interface Validity {
  now: Date;
  days: number;
}

/** A node's subject alternative names: its address (an IP address or a DNS name) and its name. Nothing
 * else: a certificate vouches only for the host it was made for, not for `localhost` on every host. */
export function nodeSans(node: { name: string; address: string }): x509.JsonGeneralNames {
  const address = { type: isIP(node.address) ? 'ip' : 'dns', value: node.address } as const;
  return node.address === node.name ? [address] : [address, { type: 'dns', value: node.name }];
}

export async function issueCa(cluster: string, v: Validity): Promise<IssuedPem> {
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: [`nokube ${cluster} CA`] }, { OU: [UNIT.ca] }],
    notBefore: new Date(v.now.getTime() - BACKDATE_MS),
    notAfter: new Date(v.now.getTime() + v.days * DAY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    keys,
    extensions: [
      // pathLen 0: this CA signs end certificates only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: privateKeyPem(keys.privateKey) };
}

/** A node's certificate: CN the node name, one O per role (`head`, `worker`), for server and client use. */
export function issueNodeCertificate(
  ca: SigningCa,
  node: { name: string; address: string; roles: Role[] },
  v: Validity,
): Promise<IssuedPem> {
  return issueLeaf(ca, v, {
    subject: [{ CN: [node.name] }, ...node.roles.map((r) => ({ O: [r] })), { OU: [UNIT.node] }],
    usages: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
    sans: nodeSans(node),
  });
}

/** The CLI's certificate: client use only, no names to serve. */
export function issueCliCertificate(ca: SigningCa, v: Validity): Promise<IssuedPem> {
  return issueClientCertificate(ca, { name: CLI_SUBJECT.name, groups: [CLI_SUBJECT.group] }, v);
}

/** A client certificate (`nokube tls client`): CN the name, one O= per group (the ACL policies the head
 * gives it), client use only. */
export function issueClientCertificate(
  ca: SigningCa,
  who: { name: string; groups: readonly string[] },
  v: Validity,
): Promise<IssuedPem> {
  return issueLeaf(ca, v, {
    subject: [{ CN: [who.name] }, ...who.groups.map((g) => ({ O: [g] })), { OU: [UNIT.client] }],
    usages: [x509.ExtendedKeyUsage.clientAuth],
    sans: [],
  });
}

async function issueLeaf(
  ca: SigningCa,
  v: Validity,
  what: { subject: x509.JsonName; usages: x509.ExtendedKeyUsageType[]; sans: x509.JsonGeneralNames },
): Promise<IssuedPem> {
  const keys = await newKeyPair();
  // Never valid longer than the CA that signs it: a chain is only as good as its CA.
  const notAfter = Math.min(v.now.getTime() + v.days * DAY_MS, ca.cert.notAfter.getTime());
  const caKeyId = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(what.usages),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (caKeyId) extensions.push(new x509.AuthorityKeyIdentifierExtension(caKeyId));
  if (what.sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(what.sans));
  const cert = await x509.X509CertificateGenerator.create({
    subject: what.subject,
    issuer: ca.cert.subjectName,
    notBefore: new Date(v.now.getTime() - BACKDATE_MS),
    notAfter: new Date(notAfter),
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions,
  });
  return { cert: cert.toString('pem'), key: privateKeyPem(keys.privateKey) };
}
