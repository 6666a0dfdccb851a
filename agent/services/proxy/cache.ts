// The inputs this node's Services table was last planned from (written before the load), kept in the
// workspace (written whole: temp file and rename): an agent cut off from etcd, also across its own
// restart, loads its rules from them. Only what the planner reads is kept (no status, no managed fields).
import { join } from 'node:path';
import type { EndpointSlice, Service } from '../../objects/types.ts';
import { readIfPresent, writeAtomic } from '../../state/config-cache.ts';
import type { ServiceInput, SliceInput } from '../nft/plan.ts';

export const servicesCachePath = (workspace: string) => join(workspace, 'agent', 'services-cache.json');

export interface ServicesCache {
  podCidr?: string;
  services: ServiceInput[];
  slices: SliceInput[];
}

/** A Service as the planner reads it. */
export const trimService = (s: Service): ServiceInput => ({
  metadata: { name: s.metadata.name, namespace: s.metadata.namespace },
  spec: s.spec,
});

/** A slice as the planner reads it (its Service's label only). */
export const trimSlice = (s: EndpointSlice): SliceInput => {
  const owner = s.metadata.labels?.['kubernetes.io/service-name'];
  return {
    metadata: {
      name: s.metadata.name,
      namespace: s.metadata.namespace,
      ...(owner ? { labels: { 'kubernetes.io/service-name': owner } } : {}),
    },
    endpoints: s.endpoints.map((e) => ({ addresses: e.addresses, conditions: e.conditions })),
    ports: s.ports,
  };
};

/** The cache; undefined when there is none or it is not readable JSON (then etcd is waited for). */
export async function readServicesCache(workspace: string): Promise<ServicesCache | undefined> {
  const text = await readIfPresent(servicesCachePath(workspace)).catch(() => null);
  try {
    const cache = text ? (JSON.parse(text) as ServicesCache) : undefined;
    return cache && Array.isArray(cache.services) && Array.isArray(cache.slices) ? cache : undefined;
  } catch {
    return undefined;
  }
}

export const writeServicesCache = (workspace: string, text: string) =>
  writeAtomic(servicesCachePath(workspace), text);
