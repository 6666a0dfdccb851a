// The peer records this node's routes were last made from, kept in the workspace (written whole: temp
// file and rename), so an agent cut off from etcd, also across its own restart, keeps and restores its
// routes from them.
import { join } from 'node:path';
import { readIfPresent, writeAtomic } from '../state/config-cache.ts';
import type { Backend, PeerSubnet } from './plan.ts';

export const routesCachePath = (workspace: string) => join(workspace, 'agent', 'routes-cache.json');

export interface RoutesCache {
  backend: Backend;
  podCidr: string;
  /** Every node's subnet and address (and VTEP MAC), this node's own among them. */
  peers: PeerSubnet[];
}

/** The cache, undefined when there is none or it is not readable JSON (then etcd's records are waited for). */
export async function readRoutesCache(workspace: string): Promise<RoutesCache | undefined> {
  const text = await readIfPresent(routesCachePath(workspace));
  try {
    return text ? (JSON.parse(text) as RoutesCache) : undefined;
  } catch {
    return undefined;
  }
}

export const writeRoutesCache = (workspace: string, cache: RoutesCache) =>
  writeAtomic(routesCachePath(workspace), `${JSON.stringify(cache)}\n`);
