// The zone from the agent's shared informers of Services and EndpointSlices (one watch each per agent,
// shared with the pods part and whoever else informs them), rebuilt at most every REBUILD_MS, and kept in
// the workspace (agent/dns-cache.json): an agent cut off from etcd, also one that restarts so, answers
// from what it last knew until the informers have listed.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../log/logger.ts';
import type { Stored } from '../objects/store.ts';
import type { EndpointSlice, Service } from '../objects/types.ts';
import { type Lease, objectInformer } from '../store/informer/cluster.ts';
import { buildZone, Zone, type ZoneData } from './zone.ts';

/** Changes are coalesced this long before the zone is rebuilt (a rollout's burst of slice writes). */
const REBUILD_MS = 100;
const SAVE_MS = 1000;

export const dnsCachePath = (workspace: string) => join(workspace, 'agent', 'dns-cache.json');

export interface ZoneSourceDeps {
  etcd: Etcd3;
  cluster: string;
  workspace: string;
  log: Logger;
}

export class ZoneSource {
  private readonly deps: ZoneSourceDeps;
  private current = new Zone({ services: [] });
  private leases: Array<Lease<Stored>> = [];
  private readonly offs: Array<() => void> = [];
  private listed = new Set<string>();
  private rebuildTimer: NodeJS.Timeout | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(deps: ZoneSourceDeps) {
    this.deps = deps;
  }

  zone(): Zone {
    return this.current;
  }

  /** The cached zone at once; the informers' once both listed. */
  async start(): Promise<void> {
    const text = await readFile(dnsCachePath(this.deps.workspace), 'utf8').catch(() => undefined);
    if (text) {
      try {
        this.current = new Zone(JSON.parse(text) as ZoneData);
      } catch (err) {
        this.deps.log.warn({ err: String(err) }, 'DNS cache unreadable; answering from etcd once it lists');
      }
    }
    for (const resource of ['services', 'endpointslices']) {
      const lease = objectInformer(this.deps.etcd, this.deps.cluster, resource, this.deps.log);
      this.leases.push(lease);
      const changed = () => this.rebuildSoon();
      this.offs.push(
        lease.informer.on({
          add: changed,
          update: changed,
          delete: changed,
          listed: () => {
            this.listed.add(resource);
            changed();
          },
        }),
      );
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.rebuildTimer);
    for (const off of this.offs) off();
    await Promise.all(this.leases.map((l) => l.release()));
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      await this.save();
    }
  }

  private rebuildSoon(): void {
    if (this.rebuildTimer || this.stopped) return;
    this.rebuildTimer = setTimeout(() => {
      this.rebuildTimer = undefined;
      this.rebuild();
    }, REBUILD_MS);
  }

  private rebuild(): void {
    // Until both have listed, the cache (or nothing) answers: half a list would say NXDOMAIN for the rest.
    if (this.listed.size < this.leases.length) return;
    const [services, slices] = this.leases.map((l) =>
      l.informer.entries().map(([, e]) => e.value.object),
    ) as [Service[], EndpointSlice[]];
    this.current = new Zone(buildZone(services, slices));
    if (!this.saveTimer)
      this.saveTimer = setTimeout(() => {
        this.saveTimer = undefined;
        void this.save();
      }, SAVE_MS);
  }

  private async save(): Promise<void> {
    const path = dnsCachePath(this.deps.workspace);
    try {
      await mkdir(join(this.deps.workspace, 'agent'), { recursive: true });
      await writeFile(`${path}.tmp`, JSON.stringify(this.current.data));
      await rename(`${path}.tmp`, path);
    } catch (err) {
      this.deps.log.warn({ err: String(err) }, 'DNS cache write failed');
    }
  }
}
