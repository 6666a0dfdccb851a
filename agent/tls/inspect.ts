// Reading the cluster's certificates: parse, tell what one is for (a node and its roles, the CLI, the CA),
// check it against the cluster CA, and how long it has left. The clock is always a parameter.
import { isIP } from 'node:net';
import { nodeSans, UNIT } from './issue.ts';
import { DAY_MS, WARN_DAYS } from './validity.ts';
import { x509 } from './x509.ts';

export type Certificate = x509.X509Certificate;

/** A certificate from PEM text; the error says what was found instead. */
export function parseCertificate(pem: string): Certificate {
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new Error('not a PEM certificate (no "BEGIN CERTIFICATE" block)');
  try {
    return new x509.X509Certificate(pem);
  } catch (err) {
    throw new Error(`not a readable certificate: ${(err as Error).message}`);
  }
}

export type Identity =
  | { kind: 'ca'; name: string }
  | { kind: 'node'; name: string; roles: string[] }
  | { kind: 'client'; name: string; groups: string[] }
  | { kind: 'unknown'; name: string };

/** What a certificate of this PKI is for, from its subject: CN the name, O the roles (node) or groups
 * (client), OU the kind. A later check (the head's TLS) tells a head's certificate by `roles`. */
export function certificateIdentity(cert: Certificate): Identity {
  const name = cert.subjectName.getField('CN')[0] ?? '';
  const orgs = cert.subjectName.getField('O');
  switch (cert.subjectName.getField('OU')[0]) {
    case UNIT.ca:
      return { kind: 'ca', name };
    case UNIT.node:
      return { kind: 'node', name, roles: orgs };
    case UNIT.client:
      return { kind: 'client', name, groups: orgs };
    default:
      return { kind: 'unknown', name };
  }
}

/** An IP address as written canonically (IPv6 compressed, lower case), so two spellings compare equal. */
function canonicalIp(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

/** Subject alternative names as `DNS:name` / `IP:address`. */
export function subjectAltNames(cert: Certificate): string[] {
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return (ext?.names.items ?? []).map((n) =>
    n.type === 'ip' ? `IP:${canonicalIp(n.value)}` : `${n.type.toUpperCase()}:${n.value}`,
  );
}

/** The subject alternative names a node's certificate must carry (its address and name, nodeSans). */
export function expectedNodeSans(node: { name: string; address: string }): string[] {
  return nodeSans(node).map((n) => (n.type === 'ip' ? `IP:${canonicalIp(n.value)}` : `DNS:${n.value}`));
}

/** Why a node certificate does not fit the node as configured (name, roles, addresses), or undefined. */
export function nodeFitProblem(
  cert: Certificate,
  node: { name: string; address: string; roles: string[] },
): string | undefined {
  const id = certificateIdentity(cert);
  if (id.kind !== 'node') return `not a node certificate (${id.kind} "${id.name}")`;
  if (id.name !== node.name) return `the certificate is node "${id.name}"'s, not node "${node.name}"'s`;
  const same = (a: string[], b: string[]) => [...a].sort().join() === [...b].sort().join();
  if (!same(id.roles, node.roles))
    return `the certificate gives roles [${id.roles.join(', ')}], the config [${node.roles.join(', ')}]`;
  const sans = subjectAltNames(cert);
  const want = expectedNodeSans(node);
  if (!same(sans, want)) return `the certificate names ${sans.join(', ')}, the config ${want.join(', ')}`;
  return undefined;
}

function validityProblem(cert: Certificate, now: Date): string | undefined {
  if (now.getTime() < cert.notBefore.getTime())
    return `not valid before ${cert.notBefore.toISOString()} (this clock: ${now.toISOString()})`;
  if (now.getTime() >= cert.notAfter.getTime()) return `expired on ${cert.notAfter.toISOString()}`;
  return undefined;
}

/** Why `ca` cannot serve as the cluster CA now, or undefined. */
export async function caProblem(ca: Certificate, now: Date): Promise<string | undefined> {
  if (!ca.getExtension(x509.BasicConstraintsExtension)?.ca)
    return 'not a CA certificate (no CA basic constraint)';
  if (ca.issuer !== ca.subject || !(await ca.verify({ signatureOnly: true })))
    return 'not a self-signed CA certificate';
  return validityProblem(ca, now);
}

/** Why `cert` was not signed by `ca` (issuer name, signature), whatever the date; or undefined. */
export async function signerProblem(cert: Certificate, ca: Certificate): Promise<string | undefined> {
  if (cert.issuer !== ca.subject)
    return `issued by "${cert.issuer}", not by this cluster's CA "${ca.subject}"`;
  if (!(await cert.verify({ publicKey: ca, signatureOnly: true })))
    return "its signature does not verify with this cluster's CA key (it was made by another CA)";
  return undefined;
}

/** Why `cert` does not chain to `ca` now (issuer, signature, validity of both), or undefined. */
export async function chainProblem(
  cert: Certificate,
  ca: Certificate,
  now: Date,
): Promise<string | undefined> {
  const ofCa = await caProblem(ca, now);
  if (ofCa) return `the CA certificate: ${ofCa}`;
  return (await signerProblem(cert, ca)) ?? validityProblem(cert, now);
}

/** Whole days left until NotAfter (negative once expired: -1 on the day after). */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
}

export type ExpiryState = 'ok' | 'expiring' | 'expired';

export function expiryState(notAfter: Date, now: Date): ExpiryState {
  if (now.getTime() >= notAfter.getTime()) return 'expired';
  return notAfter.getTime() - now.getTime() < WARN_DAYS * DAY_MS ? 'expiring' : 'ok';
}
