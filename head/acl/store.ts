// The ACL in etcd (keys.acl*): policies and tokens. Every write is one transaction whose compares hold
// what it was decided on; a refused call writes nothing.
import type { Etcd3 } from 'etcd3';
import { z } from 'zod';
import { keys } from '../../agent/store/keys.ts';
import { HttpError } from '../api/http-error.ts';
import {
  ANONYMOUS_POLICY,
  BUILTIN_POLICIES,
  MANAGEMENT_POLICY,
  type Policy,
  parsePolicy,
  policySchema,
} from './policy.ts';
import type { Subject } from './subject.ts';
import {
  hashSecret,
  isExpired,
  isSecretFormat,
  newSecret,
  newTokenRecord,
  secretMatches,
  type TokenRecord,
  type TokenRequest,
  tokenRecordSchema,
  tokenRequestSchema,
} from './token.ts';

/** A write that lost a race (someone changed the same keys meanwhile) is planned again, this often. */
const ATTEMPTS = 3;

export type WriteOutcome = 'created' | 'configured' | 'unchanged';

const BOOTSTRAP_NAME = 'bootstrap';

/** A token's policy that no longer exists grants nothing; it keeps its name in messages. */
const deletedPolicy = (name: string): Policy => ({
  name,
  description: '(deleted)',
  rules: [],
  cluster: {},
});

function decodePolicy(value: string, name: string): Policy {
  const parsed = policySchema.safeParse(JSON.parse(value));
  return parsed.success ? parsed.data : deletedPolicy(name);
}

/** The one-time bootstrap: the four built-in policies (those not stored yet) and a management token
 * (ops-admin), in one transaction that fails when the cluster was bootstrapped before. */
export async function bootstrapAcl(
  etcd: Etcd3,
  cluster: string,
  now = new Date(),
): Promise<{ secret: string; record: TokenRecord }> {
  for (let attempt = 1; ; attempt++) {
    const marker = await etcd.get(keys.aclBootstrap(cluster)).string();
    if (marker !== null) {
      const was = JSON.parse(marker) as { time: string };
      throw new HttpError(409, `the ACL of cluster "${cluster}" was bootstrapped already (${was.time})`);
    }
    const seen = await Promise.all(
      BUILTIN_POLICIES.map(async (p) => {
        const kv = (await etcd.get(keys.aclPolicy(cluster, p.name)).exec()).kvs[0];
        return { policy: p, mod: kv ? Number(kv.mod_revision) : 0 };
      }),
    );
    const secret = newSecret();
    const record = newTokenRecord(
      {
        name: BOOTSTRAP_NAME,
        description: 'management token made by `nokube acl bootstrap`',
        policies: [MANAGEMENT_POLICY],
      },
      secret,
      now,
    );
    const txn = etcd.if(keys.aclBootstrap(cluster), 'Create', '==', 0);
    for (const s of seen) txn.and(keys.aclPolicy(cluster, s.policy.name), 'Mod', '==', s.mod);
    const res = await txn
      .then(
        etcd
          .put(keys.aclBootstrap(cluster))
          .value(JSON.stringify({ time: now.toISOString(), accessor: record.accessor })),
        etcd.put(keys.aclToken(cluster, record.secretHash)).value(JSON.stringify(record)),
        // ops-admin is always the built-in one; the others are kept when an operator stored them first.
        ...seen
          .filter((s) => s.mod === 0 || s.policy.name === MANAGEMENT_POLICY)
          .map((s) => etcd.put(keys.aclPolicy(cluster, s.policy.name)).value(JSON.stringify(s.policy))),
      )
      .commit();
    if (res.succeeded) return { secret, record };
    if (attempt >= ATTEMPTS) throw new HttpError(409, 'the ACL changed during the bootstrap: run it again');
  }
}

// ---- policies ----

export async function listPolicies(etcd: Etcd3, cluster: string): Promise<Policy[]> {
  const all = await etcd.getAll().prefix(keys.aclPoliciesPrefix(cluster)).strings();
  return Object.entries(all)
    .map(([key, value]) => decodePolicy(value, key.slice(keys.aclPoliciesPrefix(cluster).length)))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function getPolicy(etcd: Etcd3, cluster: string, name: string): Promise<Policy> {
  const value = await etcd.get(keys.aclPolicy(cluster, name)).string();
  if (value === null) throw new HttpError(404, `policy "${name}" not found`);
  return decodePolicy(value, name);
}

/** Store a policy document (validated); created, configured or unchanged. */
export async function applyPolicy(etcd: Etcd3, cluster: string, document: unknown): Promise<WriteOutcome> {
  const parsed = parsePolicy(document);
  if ('problems' in parsed) throw new HttpError(400, parsed.problems[0]!, parsed.problems);
  const { policy } = parsed;
  if (policy.name === MANAGEMENT_POLICY)
    throw new HttpError(403, `policy "${MANAGEMENT_POLICY}" is built in and cannot be changed`);
  const key = keys.aclPolicy(cluster, policy.name);
  const value = JSON.stringify(policy);
  const kv = (await etcd.get(key).exec()).kvs[0];
  if (kv?.value.toString('utf8') === value) return 'unchanged';
  const res = await etcd
    .if(key, 'Mod', '==', kv ? Number(kv.mod_revision) : 0)
    .then(etcd.put(key).value(value))
    .commit();
  if (!res.succeeded)
    throw new HttpError(409, `policy "${policy.name}" was changed meanwhile: apply it again`);
  return kv ? 'configured' : 'created';
}

export async function deletePolicy(etcd: Etcd3, cluster: string, name: string): Promise<void> {
  if (name === MANAGEMENT_POLICY)
    throw new HttpError(403, `policy "${MANAGEMENT_POLICY}" is built in and cannot be deleted`);
  const res = await etcd.delete().key(keys.aclPolicy(cluster, name)).exec();
  if (Number(res.deleted) === 0) throw new HttpError(404, `policy "${name}" not found`);
}

/** The named policies as stored now; a missing one grants nothing. */
export async function resolvePolicies(
  etcd: Etcd3,
  cluster: string,
  names: readonly string[],
): Promise<Policy[]> {
  return pickPolicies(cluster, await etcd.getAll().prefix(keys.aclPoliciesPrefix(cluster)).strings(), names);
}

/** From every stored policy (one range read: a handful of small values), the named ones. */
function pickPolicies(cluster: string, stored: Record<string, string>, names: readonly string[]): Policy[] {
  return names.map((name) => {
    const value = stored[keys.aclPolicy(cluster, name)];
    return value === undefined ? deletedPolicy(name) : decodePolicy(value, name);
  });
}

// ---- tokens ----

/** A new token for the request; its policies must exist (and still do when it is written). */
export async function createToken(
  etcd: Etcd3,
  cluster: string,
  request: TokenRequest,
  now = new Date(),
): Promise<{ secret: string; record: TokenRecord }> {
  const parsed = tokenRequestSchema.safeParse(request);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new HttpError(400, problems[0]!, problems);
  }
  const names = [...new Set(parsed.data.policies)];
  const mods = await Promise.all(
    names.map(async (name) => {
      const kv = (await etcd.get(keys.aclPolicy(cluster, name)).exec()).kvs[0];
      if (!kv) throw new HttpError(400, `policy "${name}" does not exist (see \`nokube acl policy list\`)`);
      return [name, Number(kv.mod_revision)] as const;
    }),
  );
  const secret = newSecret();
  const record = newTokenRecord({ ...parsed.data, policies: names }, secret, now);
  const key = keys.aclToken(cluster, record.secretHash);
  const txn = etcd.if(key, 'Create', '==', 0);
  for (const [name, mod] of mods) txn.and(keys.aclPolicy(cluster, name), 'Mod', '==', mod);
  const res = await txn.then(etcd.put(key).value(JSON.stringify(record))).commit();
  if (!res.succeeded) throw new HttpError(409, 'a policy of the token changed meanwhile: create it again');
  return { secret, record };
}

export async function listTokens(etcd: Etcd3, cluster: string): Promise<TokenRecord[]> {
  const all = await etcd.getAll().prefix(keys.aclTokensPrefix(cluster)).strings();
  return Object.values(all)
    .flatMap((v) => {
      const parsed = tokenRecordSchema.safeParse(JSON.parse(v));
      return parsed.success ? [parsed.data] : [];
    })
    .sort((a, b) => (a.createTime < b.createTime ? -1 : a.createTime > b.createTime ? 1 : 0));
}

export async function findToken(etcd: Etcd3, cluster: string, accessor: string): Promise<TokenRecord> {
  const found = (await listTokens(etcd, cluster)).find((t) => t.accessor === accessor);
  if (!found) throw new HttpError(404, `no token with accessor "${accessor}"`);
  return found;
}

/** Delete the token: refused on every head from the next request on (each reads etcd). */
export async function revokeToken(etcd: Etcd3, cluster: string, accessor: string): Promise<TokenRecord> {
  const token = await findToken(etcd, cluster, accessor);
  const res = await etcd.delete().key(keys.aclToken(cluster, token.secretHash)).exec();
  if (Number(res.deleted) === 0) throw new HttpError(404, `no token with accessor "${accessor}"`);
  return token;
}

/** Why a presented secret lets nobody in. Deliberately one message for unknown, revoked and expired:
 * the answer tells nothing about which tokens exist. */
export const INVALID_TOKEN = 'the token is not valid (unknown, revoked or expired)';
export const MALFORMED_TOKEN =
  'the token is malformed (expected the 43-character secret a token was created with)';

/** The subject of a bearer secret, read from etcd now: a revoked or expired token is refused at once. */
export async function subjectOfSecret(
  etcd: Etcd3,
  cluster: string,
  secret: string,
  now = Date.now(),
): Promise<Subject | { refused: string }> {
  if (!isSecretFormat(secret)) return { refused: MALFORMED_TOKEN };
  // The token and every policy at once: one round trip, not two (a request pays it each time).
  const [value, policies] = await Promise.all([
    etcd.get(keys.aclToken(cluster, hashSecret(secret))).string(),
    etcd.getAll().prefix(keys.aclPoliciesPrefix(cluster)).strings(),
  ]);
  if (value === null) return { refused: INVALID_TOKEN };
  const parsed = tokenRecordSchema.safeParse(JSON.parse(value));
  if (!parsed.success || !secretMatches(parsed.data, secret) || isExpired(parsed.data, now))
    return { refused: INVALID_TOKEN };
  const t = parsed.data;
  return {
    kind: 'token',
    accessor: t.accessor,
    name: t.name,
    policies: pickPolicies(cluster, policies, t.policies),
  };
}

/** The subject of a request without a token: the anonymous policy as stored (none: nothing). */
export async function anonymousSubject(etcd: Etcd3, cluster: string): Promise<Subject> {
  return { kind: 'anonymous', policies: await resolvePolicies(etcd, cluster, [ANONYMOUS_POLICY]) };
}

// ---- client certificates ----

/** A client certificate the heads refuse (`nokube acl certificate deny`): until it is allowed again. */
export interface DeniedCertificate {
  serial: string;
  /** Its CN, when the deny named the certificate's file. */
  name?: string;
  reason: string;
  time: string;
}

/** A serial number as Node gives a peer's (upper-case hex, no separators, no leading zeros), so
 * `openssl x509 -serial`'s `00AB:..` or a lower-case copy from an audit line match it. */
export function normalSerial(text: string): string | undefined {
  const hex = text
    .replace(/^serial=/i, '')
    .replace(/:/g, '')
    .trim()
    .toUpperCase();
  if (!/^[0-9A-F]{1,64}$/.test(hex)) return undefined;
  return hex.replace(/^0+(?=.)/, '');
}

const deniedSchema = z.strictObject({
  serial: z.string(),
  name: z.string().max(253).optional(),
  reason: z.string().max(1000).default(''),
});

/** Deny a certificate by serial; denying one again keeps the first record ('unchanged'). */
export async function denyCertificate(
  etcd: Etcd3,
  cluster: string,
  body: unknown,
  now = new Date(),
): Promise<{ outcome: 'created' | 'unchanged'; record: DeniedCertificate }> {
  const parsed = deniedSchema.safeParse(body);
  if (!parsed.success) throw new HttpError(400, 'expected {"serial": "<hex>", "name"?, "reason"?}');
  const serial = normalSerial(parsed.data.serial);
  if (!serial) throw new HttpError(400, `serial ${parsed.data.serial}: expected the serial number in hex`);
  const record: DeniedCertificate = {
    serial,
    ...(parsed.data.name ? { name: parsed.data.name } : {}),
    reason: parsed.data.reason,
    time: now.toISOString(),
  };
  const key = keys.aclDeniedCertificate(cluster, serial);
  const res = await etcd
    .if(key, 'Create', '==', 0)
    .then(etcd.put(key).value(JSON.stringify(record)))
    .else(etcd.get(key))
    .commit();
  if (res.succeeded) return { outcome: 'created', record };
  const was = res.responses[0]?.response_range?.kvs[0]?.value.toString('utf8');
  return { outcome: 'unchanged', record: was ? (JSON.parse(was) as DeniedCertificate) : record };
}

export async function listDeniedCertificates(etcd: Etcd3, cluster: string): Promise<DeniedCertificate[]> {
  const all = await etcd.getAll().prefix(keys.aclDeniedCertificatesPrefix(cluster)).strings();
  return Object.values(all)
    .map((v) => JSON.parse(v) as DeniedCertificate)
    .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
}

/** Take a certificate off the deny-list. */
export async function allowCertificate(etcd: Etcd3, cluster: string, serialText: string): Promise<string> {
  const serial = normalSerial(serialText);
  if (!serial) throw new HttpError(400, `serial ${serialText}: expected the serial number in hex`);
  const res = await etcd.delete().key(keys.aclDeniedCertificate(cluster, serial)).exec();
  if (Number(res.deleted) === 0) throw new HttpError(404, `no denied certificate with serial ${serial}`);
  return serial;
}

/** The subject of a verified client certificate: its name, and the policies its groups (O=) name as
 * stored now (one that does not exist grants nothing: a node's `head`/`worker` by default); refused when
 * its serial is on the deny-list (read with the policies, at once). */
export async function certificateSubject(
  etcd: Etcd3,
  cluster: string,
  cert: { name: string; groups: readonly string[]; serial: string },
): Promise<Subject | { refused: string }> {
  const serial = normalSerial(cert.serial) ?? cert.serial;
  const [policies, denied] = await Promise.all([
    resolvePolicies(etcd, cluster, [...new Set(cert.groups)]),
    etcd.get(keys.aclDeniedCertificate(cluster, serial)).string(),
  ]);
  if (denied !== null)
    return { refused: `the client certificate "${cert.name}" (serial ${serial}) is denied` };
  return { kind: 'certificate', name: cert.name, serial, policies };
}
