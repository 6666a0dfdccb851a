// CPU and memory of this node's pod containers, from the Docker engine's one-shot stats (API 1.41+: one
// reading, no 1 s wait for a second one), a few at a time. CPU is the usage counter's increase between our
// own samples, so it needs no `precpu` reading from the engine.
import type Docker from 'dockerode';
import { LABEL, ourContainers } from '../runtime/labels.ts';
import type { ContainerSample } from './sample.ts';

/** Stats requests in flight at once: the engine answers each from cgroup files, but not for free. */
const PARALLEL = 4;

interface Reading {
  at: number;
  usageNs: number;
}

interface EngineStats {
  read?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: {
    usage?: number;
    limit?: number;
    stats?: Record<string, number>;
  };
}

export class ContainerStats {
  private readonly docker: Docker;
  private readonly cluster: string;
  private readonly node: string;
  private readonly hostMemory: number;
  private prev = new Map<string, Reading>();

  constructor(docker: Docker, cluster: string, node: string, hostMemoryBytes: number) {
    this.docker = docker;
    this.cluster = cluster;
    this.node = node;
    this.hostMemory = hostMemoryBytes;
  }

  async sample(): Promise<ContainerSample[]> {
    const list = await this.docker.listContainers({ filters: ourContainers(this.cluster, this.node) });
    const running = list.filter((c) => c.State === 'running');
    const out: ContainerSample[] = [];
    const next = new Map<string, Reading>();
    for (let i = 0; i < running.length; i += PARALLEL) {
      const batch = running.slice(i, i + PARALLEL);
      const stats = await Promise.all(
        batch.map((c) =>
          (
            this.docker.getContainer(c.Id).stats({ stream: false, 'one-shot': true } as {
              stream: false;
            }) as Promise<EngineStats>
          ).catch(() => undefined),
        ),
      );
      batch.forEach((c, j) => {
        const s = stats[j];
        if (!s) return;
        const at = Date.now();
        const usageNs = s.cpu_stats?.cpu_usage?.total_usage ?? 0;
        next.set(c.Id, { at, usageNs });
        const before = this.prev.get(c.Id);
        const elapsedNs = before ? (at - before.at) * 1e6 : 0;
        const cpuCores =
          before && elapsedNs > 0 && usageNs >= before.usageNs ? (usageNs - before.usageNs) / elapsedNs : 0;
        const mem = s.memory_stats ?? {};
        // What `docker stats` shows: usage without the inactive page cache (cgroup v2 / v1 names).
        const inactive = mem.stats?.inactive_file ?? mem.stats?.total_inactive_file ?? 0;
        const sample: ContainerSample = {
          id: c.Id,
          namespace: c.Labels[LABEL.namespace] ?? '',
          pod: c.Labels[LABEL.pod] ?? '',
          container: c.Labels[LABEL.container] ?? '',
          cpuCores,
          memoryBytes: Math.max(0, (mem.usage ?? 0) - inactive),
        };
        // An unlimited container reports the host's memory (or more) as its limit.
        if (mem.limit && mem.limit < this.hostMemory) sample.memoryLimitBytes = mem.limit;
        out.push(sample);
      });
    }
    this.prev = next;
    return out;
  }
}
