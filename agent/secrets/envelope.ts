// AES-256-GCM envelopes: a value encrypted under one key of the keyring, with the key's id beside it and
// additional authenticated data (AAD) naming what the value belongs to, so a ciphertext copied to another
// object fails to open instead of passing for its data. A fresh 96-bit IV per envelope (random: at our
// write rates far below GCM's 2^32 messages per key).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Keyring } from './keyring.ts';

export const ENVELOPE_VERSION = 'v1';

export interface Envelope {
  'nokube/enc': typeof ENVELOPE_VERSION;
  kid: string;
  iv: string;
  ct: string;
  tag: string;
}

/** The key the envelope names is not in this keyring (or there is no keyring). */
export class UnknownKeyError extends Error {
  override name = 'UnknownKeyError';
  readonly kid: string;
  constructor(kid: string, what: string) {
    super(`${what} is encrypted with secrets key "${kid}", which this process's keyring does not hold`);
    this.kid = kid;
  }
}

/** The envelope is malformed or does not authenticate (tampered, moved to another object, or a
 * different key under the same id). */
export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
}

export function isEnvelope(v: unknown): v is Envelope {
  if (v === null || typeof v !== 'object') return false;
  const e = v as Record<string, unknown>;
  return (
    e['nokube/enc'] !== undefined &&
    typeof e.kid === 'string' &&
    typeof e.iv === 'string' &&
    typeof e.ct === 'string' &&
    typeof e.tag === 'string'
  );
}

export function seal(keyring: Keyring, aad: string, plaintext: Buffer): Envelope {
  const key = keyring.keys.get(keyring.active)!;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    'nokube/enc': ENVELOPE_VERSION,
    kid: keyring.active,
    iv: iv.toString('base64'),
    ct: ct.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
  };
}

/** `what` names the object in errors (never its content). */
export function open(keyring: Keyring | undefined, aad: string, env: Envelope, what: string): Buffer {
  if (env['nokube/enc'] !== ENVELOPE_VERSION)
    throw new EnvelopeError(`${what}: unknown envelope version ${JSON.stringify(env['nokube/enc'])}`);
  const key = keyring?.keys.get(env.kid);
  if (!key) throw new UnknownKeyError(env.kid, what);
  const iv = Buffer.from(env.iv, 'base64');
  const tag = Buffer.from(env.tag, 'base64');
  if (iv.length !== 12 || tag.length !== 16) throw new EnvelopeError(`${what}: malformed envelope`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(env.ct, 'base64')), decipher.final()]);
  } catch {
    throw new EnvelopeError(
      `${what}: does not decrypt under secrets key "${env.kid}" (tampered, copied from another object, or another key under that id)`,
    );
  }
}
