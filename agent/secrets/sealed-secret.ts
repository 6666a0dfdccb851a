// A Secret as stored: its `data` and `stringData` are one AES-256-GCM envelope in the field `sealed`
// (the key names are hidden too); everything else (metadata, type, immutable) stays readable, so
// listing, describing sizes aside, and deleting need no key. The AAD is the Secret's namespace and name:
// an envelope moved to another Secret does not open. A Secret stored before encryption existed (plain
// `data`) is read as it is and sealed on its next write (or by `nokube secrets rotate-key`).
import { type Envelope, EnvelopeError, isEnvelope, open, seal, UnknownKeyError } from './envelope.ts';
import type { Keyring } from './keyring.ts';

export const SEALED_FIELD = 'sealed';

interface SecretLike {
  kind?: unknown;
  metadata: { namespace?: string; name: string };
  data?: unknown;
  stringData?: unknown;
  sealed?: unknown;
}

/** No keyring in this process: a Secret can be neither written nor read. */
export class NoSecretsKeyError extends Error {
  override name = 'NoSecretsKeyError';
}

export const secretAad = (s: SecretLike) =>
  `nokube/v1/secrets/${s.metadata.namespace ?? ''}/${s.metadata.name}`;
const what = (s: SecretLike) => `secret "${s.metadata.namespace ?? ''}/${s.metadata.name}"`;

export function sealedEnvelope(s: SecretLike): Envelope | undefined {
  return isEnvelope(s.sealed) ? s.sealed : undefined;
}

/** The stored form of a Secret (sealed under the active key). One read here and not opened (no key for
 * it) is passed on as it is: it still holds only ciphertext. */
export function sealSecret<T extends SecretLike>(s: T, keyring: Keyring | undefined): T {
  const { data, stringData, sealed: _sealed, ...rest } = s;
  if (data === undefined && stringData === undefined && sealedEnvelope(s)) return s;
  if (!keyring)
    throw new NoSecretsKeyError(
      `${what(s)} cannot be written: this process holds no secrets key (agent flag --secrets-key; README "Secrets")`,
    );
  const plain = JSON.stringify({
    ...(data === undefined ? {} : { data }),
    ...(stringData === undefined ? {} : { stringData }),
  });
  return { ...rest, [SEALED_FIELD]: seal(keyring, secretAad(s), Buffer.from(plain, 'utf8')) } as T;
}

/** The Secret with its data in the clear; a plain (legacy) one as it is. Throws UnknownKeyError or
 * EnvelopeError (messages name the Secret and the key id, never a value). */
export function openSecret<T extends SecretLike>(s: T, keyring: Keyring | undefined): T {
  const env = sealedEnvelope(s);
  if (!env) return s;
  const plain = JSON.parse(open(keyring, secretAad(s), env, what(s)).toString('utf8')) as object;
  const { sealed: _sealed, ...rest } = s;
  return { ...rest, ...plain } as T;
}

/** As openSecret, but a Secret that cannot be opened here stays sealed (in memory only ciphertext):
 * readers call `sealedProblem` to say why its data is not there. */
export function openIfPossible<T extends SecretLike>(s: T, keyring: Keyring | undefined): T {
  try {
    return openSecret(s, keyring);
  } catch (err) {
    if (err instanceof UnknownKeyError || err instanceof EnvelopeError) return s;
    throw err;
  }
}

/** Why this Secret's data cannot be read here (undefined: it can, or it is plain). */
export function sealedProblem(s: SecretLike, keyring: Keyring | undefined): string | undefined {
  if (!sealedEnvelope(s)) return undefined;
  try {
    openSecret(s, keyring);
    return undefined;
  } catch (err) {
    if (err instanceof UnknownKeyError || err instanceof EnvelopeError) return err.message;
    throw err;
  }
}
