// Re-encrypt every Secret in etcd under the keyring's active key: each in its own transaction that
// compares its mod revision (a Secret applied meanwhile is read again, never overwritten with older
// data), so the cluster keeps running throughout. Plain Secrets (stored before encryption existed) are
// sealed too. A Secret under a key this keyring lacks is reported (by name and key id) and left as it is.
import type { Etcd3, IKeyValue } from 'etcd3';
import type { Keyring } from '../../../agent/secrets/keyring.ts';
import { openSecret, sealedEnvelope, sealSecret } from '../../../agent/secrets/sealed-secret.ts';
import { keys } from '../../../agent/store/keys.ts';

const ATTEMPTS = 5;

export interface ReencryptResult {
  rewritten: number;
  /** Already under the active key. */
  current: number;
  /** One line per Secret left as it was, and why. */
  problems: string[];
}

type StoredSecret = Parameters<typeof sealSecret>[0];

export async function reencryptSecrets(
  etcd: Etcd3,
  cluster: string,
  keyring: Keyring,
): Promise<ReencryptResult> {
  const out: ReencryptResult = { rewritten: 0, current: 0, problems: [] };
  const listed = await etcd.getAll().prefix(keys.objectResourcePrefix(cluster, 'secrets')).exec();
  for (const first of listed.kvs) {
    let kv: IKeyValue | undefined = first;
    for (let attempt = 1; kv; attempt++) {
      const stored = JSON.parse(kv.value.toString('utf8')) as StoredSecret;
      if (sealedEnvelope(stored)?.kid === keyring.active) {
        out.current++;
        break;
      }
      let sealed: StoredSecret;
      try {
        sealed = sealSecret(openSecret(stored, keyring), keyring);
      } catch (err) {
        out.problems.push((err as Error).message);
        break;
      }
      const key = kv.key.toString('utf8');
      const res = await etcd
        .if(key, 'Mod', '==', Number(kv.mod_revision))
        .then(etcd.put(key).value(JSON.stringify(sealed)))
        .commit();
      if (res.succeeded) {
        out.rewritten++;
        break;
      }
      if (attempt >= ATTEMPTS) {
        out.problems.push(`${key}: changed ${ATTEMPTS} times while re-encrypting; run again`);
        break;
      }
      // Changed meanwhile: the new version is read and re-encrypted (deleted: nothing left to do).
      kv = (await etcd.get(key).exec()).kvs[0];
    }
  }
  return out;
}

/** Secrets in etcd sealed under `kid` (names only). */
export async function secretsUnderKey(etcd: Etcd3, cluster: string, kid: string): Promise<string[]> {
  const listed = await etcd.getAll().prefix(keys.objectResourcePrefix(cluster, 'secrets')).exec();
  return listed.kvs
    .map((kv) => JSON.parse(kv.value.toString('utf8')) as StoredSecret)
    .filter((s) => sealedEnvelope(s)?.kid === kid)
    .map((s) => `${s.metadata.namespace ?? ''}/${s.metadata.name}`);
}
