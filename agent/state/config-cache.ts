// What an agent keeps on local disk so a restart while etcd is unreachable still starts (edge autonomy):
// the last cluster config it saw and the mesh addresses of its peers. Written atomically (temp file +
// rename) so a crash never leaves half a file.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const configCachePath = (workspace: string) => join(workspace, 'agent', 'config-cache.yaml');
export const peersCachePath = (workspace: string) => join(workspace, 'agent', 'peers-cache.json');

async function writeAtomic(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, file);
}

async function readIfPresent(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export const writeConfigCache = (workspace: string, text: string) =>
  writeAtomic(configCachePath(workspace), text);
export const readConfigCache = (workspace: string) => readIfPresent(configCachePath(workspace));

/** Peer multiaddrs by node name. */
export type PeersCache = Record<string, string[]>;

export const writePeersCache = (workspace: string, peers: PeersCache) =>
  writeAtomic(peersCachePath(workspace), JSON.stringify(peers));

export async function readPeersCache(workspace: string): Promise<PeersCache> {
  const text = await readIfPresent(peersCachePath(workspace));
  if (!text) return {};
  try {
    return JSON.parse(text) as PeersCache;
  } catch {
    return {};
  }
}
