// What an agent keeps on local disk so a restart while etcd is unreachable still starts (edge autonomy):
// the last cluster config it saw and its peers as their node records last gave them (addresses to dial,
// peer ids to admit: agent/mesh/admission.ts). Written atomically (temp file + rename) so a crash never
// leaves half a file.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const configCachePath = (workspace: string) => join(workspace, 'agent', 'config-cache.yaml');
export const peersCachePath = (workspace: string) => join(workspace, 'agent', 'peers-cache.json');

/** Write a file whole (temp file + rename): a crash never leaves half of it. */
export async function writeAtomic(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, file);
}

/** The file's text, null when it does not exist. */
export async function readIfPresent(file: string): Promise<string | null> {
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

/** A peer as its node record last gave it: the peer id admitted to the mesh, the addresses dialled. */
export interface CachedPeer {
  peerId: string;
  multiaddrs: string[];
}

/** Peers by node name. */
export type PeersCache = Record<string, CachedPeer>;

export const writePeersCache = (workspace: string, peers: PeersCache) =>
  writeAtomic(peersCachePath(workspace), JSON.stringify(peers));

/** The peer id a record's multiaddr ends with (`.../p2p/<id>`). */
const P2P_SUFFIX = /\/p2p\/([^/]+)$/;

export async function readPeersCache(workspace: string): Promise<PeersCache> {
  const text = await readIfPresent(peersCachePath(workspace));
  if (!text) return {};
  let parsed: Record<string, CachedPeer | string[]>;
  try {
    parsed = JSON.parse(text) as Record<string, CachedPeer | string[]>;
  } catch {
    return {};
  }
  const peers: PeersCache = {};
  for (const [name, p] of Object.entries(parsed)) {
    // Written before mesh admission: addresses only, the peer id in their /p2p/ part.
    peers[name] = Array.isArray(p)
      ? { peerId: p.map((a) => P2P_SUFFIX.exec(a)?.[1]).find((id) => id !== undefined) ?? '', multiaddrs: p }
      : p;
  }
  return peers;
}
