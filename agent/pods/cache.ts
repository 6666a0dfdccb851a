// The desired state of this node's pods on local disk: what an agent cut off from etcd runs from, also
// across its own restart. Written atomically, readable only by the agent's user. Its Secrets are sealed
// as in etcd (agent/secrets: AES-256-GCM under the cluster key, AAD their namespace/name), so the
// workspace never holds a Secret value; they are opened again on read, with the keyring of the time.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigMap, Pod, PodStatus, Secret, Service } from '../objects/types.ts';
import { secretsKeyring } from '../secrets/process-keyring.ts';
import { openIfPossible, sealSecret } from '../secrets/sealed-secret.ts';

export interface PodsCache {
  pods: Array<{ pod: Pod; createRevision: string; status?: PodStatus }>;
  configMaps: ConfigMap[];
  secrets: Secret[];
  /** The pods' namespaces' Services (their environment variables); absent in caches of older agents. */
  services?: Service[];
}

const file = (workspace: string) => join(workspace, 'agent', 'pods-cache.json');

export async function readPodsCache(workspace: string): Promise<PodsCache | null> {
  let cache: PodsCache;
  try {
    cache = JSON.parse(await readFile(file(workspace), 'utf8')) as PodsCache;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  // One not opened here stays sealed: the pods that use it wait, naming the key (resolve.ts).
  return { ...cache, secrets: cache.secrets.map((s) => openIfPossible(s, secretsKeyring())) };
}

/** Written with every Secret sealed; one that cannot be (no keyring here) is left out, never written in
 * the clear (`skipped` names them, for the log). */
export async function writePodsCache(workspace: string, cache: PodsCache): Promise<{ skipped: string[] }> {
  const keyring = secretsKeyring();
  const skipped: string[] = [];
  const secrets: Secret[] = [];
  for (const s of cache.secrets) {
    try {
      secrets.push(sealSecret(s, keyring));
    } catch {
      skipped.push(`${s.metadata.namespace}/${s.metadata.name}`);
    }
  }
  const path = file(workspace);
  await mkdir(join(workspace, 'agent'), { recursive: true });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify({ ...cache, secrets }), { mode: 0o600 });
  await rename(tmp, path);
  return { skipped };
}
