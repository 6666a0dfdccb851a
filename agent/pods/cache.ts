// The desired state of this node's pods on local disk: what an agent cut off from etcd runs from, also
// across its own restart. Written atomically, readable only by the agent's user (it holds Secret data).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigMap, Pod, PodStatus, Secret } from '../objects/types.ts';

export interface PodsCache {
  pods: Array<{ pod: Pod; createRevision: string; status?: PodStatus }>;
  configMaps: ConfigMap[];
  secrets: Secret[];
}

const file = (workspace: string) => join(workspace, 'agent', 'pods-cache.json');

export async function readPodsCache(workspace: string): Promise<PodsCache | null> {
  try {
    return JSON.parse(await readFile(file(workspace), 'utf8')) as PodsCache;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function writePodsCache(workspace: string, cache: PodsCache): Promise<void> {
  const path = file(workspace);
  await mkdir(join(workspace, 'agent'), { recursive: true });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(cache), { mode: 0o600 });
  await rename(tmp, path);
}
