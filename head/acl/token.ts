// ACL tokens: a 256-bit random secret, shown once; etcd keeps only its SHA-256 (acl/tokens/<hash hex>),
// with an accessor id (public: what list, info, revoke and the logs name), a name, policies, the create
// time and an optional expiry. A secret of that entropy needs no slow hash: nobody can guess one.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { DNS_LABEL } from '../../agent/config/schema.ts';

/** 32 random bytes, base64url without padding: 43 characters. */
const SECRET_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export const tokenRecordSchema = z.strictObject({
  accessor: z.string(),
  name: z.string(),
  description: z.string(),
  policies: z.array(z.string()),
  createTime: z.string(),
  /** Absent: never expires. */
  expirationTime: z.string().optional(),
  /** SHA-256 of the secret, hex (also the key's last segment). */
  secretHash: z.string(),
});
export type TokenRecord = z.output<typeof tokenRecordSchema>;
/** A token as list and info show it: no hash. */
export type TokenInfo = Omit<TokenRecord, 'secretHash'> & { expired: boolean };

/** What `token create` asks for (the API's body). */
export const tokenRequestSchema = z.strictObject({
  name: z.string().regex(DNS_LABEL, 'must be an RFC 1123 label (a-z, 0-9, "-", at most 63 characters)'),
  description: z.string().max(1000).default(''),
  policies: z.array(z.string().min(1)).min(1, 'needs at least one policy'),
  /** Seconds from now; absent: the token never expires. */
  ttlSeconds: z
    .number()
    .int()
    .positive()
    .max(10 * 365 * 86400)
    .optional(),
});
export type TokenRequest = z.input<typeof tokenRequestSchema>;

export const isSecretFormat = (secret: string): boolean => SECRET_FORMAT.test(secret);

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** The record's hash equals the secret's, compared in constant time (the record was found by that hash's
 * key; this guards the comparison itself, not only the lookup). */
export function secretMatches(record: TokenRecord, secret: string): boolean {
  const a = Buffer.from(record.secretHash, 'hex');
  const b = Buffer.from(hashSecret(secret), 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function newTokenRecord(
  req: z.output<typeof tokenRequestSchema>,
  secret: string,
  now: Date,
): TokenRecord {
  return {
    accessor: randomUUID(),
    name: req.name,
    description: req.description,
    policies: req.policies,
    createTime: now.toISOString(),
    ...(req.ttlSeconds === undefined
      ? {}
      : { expirationTime: new Date(now.getTime() + req.ttlSeconds * 1000).toISOString() }),
    secretHash: hashSecret(secret),
  };
}

export const isExpired = (t: TokenRecord, now: number): boolean =>
  t.expirationTime !== undefined && Date.parse(t.expirationTime) <= now;

export function tokenInfo(t: TokenRecord, now: number): TokenInfo {
  const { secretHash: _, ...rest } = t;
  return { ...rest, expired: isExpired(t, now) };
}
