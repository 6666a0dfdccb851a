// CPU and memory of this node's pod containers, read from their cgroup files when this process can see
// them (cgroup v1 or v2, cgroupfs or systemd driver: a few small async reads per container), else from the
// engine's one-shot stats (API 1.41+), a few at a time (each can take the engine a second with many
// containers). CPU is the usage counter's increase between our own samples either way.
import { readFile } from 'node:fs/promises';
import type Docker from 'dockerode';
import { LABEL, podContainers } from '../runtime/labels.ts';
import type { ContainerSample } from './sample.ts';

/** Stats requests in flight at once: the engine answers each from cgroup files, but not for free. */
const PARALLEL = 4;
/** Containers whose cgroup files are read at once. */
const READS_PARALLEL = 4;

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

interface CgroupReading {
  usageNs: number;
  memoryBytes: number;
  limitBytes?: number;
}

/** Where a container's cgroup files are, per layout; the first that reads is remembered per container. */
const LAYOUTS: Array<(id: string) => { v2: boolean; cpu: string; mem: string }> = [
  (id) => ({
    v2: true,
    cpu: `/sys/fs/cgroup/system.slice/docker-${id}.scope`,
    mem: `/sys/fs/cgroup/system.slice/docker-${id}.scope`,
  }),
  (id) => ({ v2: true, cpu: `/sys/fs/cgroup/docker/${id}`, mem: `/sys/fs/cgroup/docker/${id}` }),
  (id) => ({
    v2: false,
    cpu: `/sys/fs/cgroup/cpuacct/docker/${id}`,
    mem: `/sys/fs/cgroup/memory/docker/${id}`,
  }),
  (id) => ({
    v2: false,
    cpu: `/sys/fs/cgroup/cpuacct/system.slice/docker-${id}.scope`,
    mem: `/sys/fs/cgroup/memory/system.slice/docker-${id}.scope`,
  }),
];

const statValue = (text: string, key: string) => {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
};

async function readCgroup(layout: { v2: boolean; cpu: string; mem: string }): Promise<CgroupReading> {
  if (layout.v2) {
    const [cpu, current, stat, max] = await Promise.all([
      readFile(`${layout.cpu}/cpu.stat`, 'utf8'),
      readFile(`${layout.mem}/memory.current`, 'utf8'),
      readFile(`${layout.mem}/memory.stat`, 'utf8'),
      readFile(`${layout.mem}/memory.max`, 'utf8'),
    ]);
    const limit = max.trim() === 'max' ? undefined : Number(max);
    return {
      usageNs: statValue(cpu, 'usage_usec') * 1000,
      memoryBytes: Math.max(0, Number(current) - statValue(stat, 'inactive_file')),
      ...(limit !== undefined ? { limitBytes: limit } : {}),
    };
  }
  const [usage, current, stat, limit] = await Promise.all([
    readFile(`${layout.cpu}/cpuacct.usage`, 'utf8'),
    readFile(`${layout.mem}/memory.usage_in_bytes`, 'utf8'),
    readFile(`${layout.mem}/memory.stat`, 'utf8'),
    readFile(`${layout.mem}/memory.limit_in_bytes`, 'utf8'),
  ]);
  return {
    usageNs: Number(usage),
    memoryBytes: Math.max(0, Number(current) - statValue(stat, 'total_inactive_file')),
    limitBytes: Number(limit),
  };
}

export class ContainerStats {
  private readonly docker: Docker;
  private readonly cluster: string;
  private readonly node: string;
  private readonly hostMemory: number;
  private prev = new Map<string, Reading>();
  /** Per container: the cgroup layout that worked, or null when only the engine's stats do. */
  private layouts = new Map<string, number | null>();

  constructor(docker: Docker, cluster: string, node: string, hostMemoryBytes: number) {
    this.docker = docker;
    this.cluster = cluster;
    this.node = node;
    this.hostMemory = hostMemoryBytes;
  }

  async sample(): Promise<ContainerSample[]> {
    const list = await this.docker.listContainers({ filters: podContainers(this.cluster, this.node) });
    const running = list.filter((c) => c.State === 'running');
    const out: ContainerSample[] = [];
    const next = new Map<string, Reading>();
    const layouts = new Map<string, number | null>();
    const add = (c: (typeof running)[number], r: CgroupReading) => {
      const at = Date.now();
      next.set(c.Id, { at, usageNs: r.usageNs });
      const before = this.prev.get(c.Id);
      const elapsedNs = before ? (at - before.at) * 1e6 : 0;
      const cpuCores =
        before && elapsedNs > 0 && r.usageNs >= before.usageNs ? (r.usageNs - before.usageNs) / elapsedNs : 0;
      const sample: ContainerSample = {
        id: c.Id,
        namespace: c.Labels[LABEL.namespace] ?? '',
        pod: c.Labels[LABEL.pod] ?? '',
        container: c.Labels[LABEL.container] ?? '',
        cpuCores,
        memoryBytes: r.memoryBytes,
      };
      // An unlimited container reports the host's memory (or more) as its limit.
      if (r.limitBytes && r.limitBytes < this.hostMemory) sample.memoryLimitBytes = r.limitBytes;
      out.push(sample);
    };
    const viaEngine: typeof running = [];
    const readOne = async (c: (typeof running)[number]) => {
      const known = this.layouts.get(c.Id);
      const tries = known === null ? [] : known !== undefined ? [known] : LAYOUTS.map((_, i) => i);
      for (const i of tries) {
        try {
          add(c, await readCgroup(LAYOUTS[i]!(c.Id)));
          layouts.set(c.Id, i);
          return;
        } catch {
          // not this layout
        }
      }
      layouts.set(c.Id, null);
      viaEngine.push(c);
    };
    // A few containers at a time: 100 containers' 400 reads at once came back as one burst of callbacks
    // (bench/probes: loop lag spikes at each sample); spread, the probes' work interleaves with them.
    await eachAtMost(running, READS_PARALLEL, readOne);
    await eachAtMost(viaEngine, PARALLEL, async (c) => {
      const s = await (
        this.docker.getContainer(c.Id).stats({ stream: false, 'one-shot': true } as {
          stream: false;
        }) as Promise<EngineStats>
      ).catch(() => undefined);
      if (!s) return;
      const mem = s.memory_stats ?? {};
      // What `docker stats` shows: usage without the inactive page cache (cgroup v2 / v1 names).
      const inactive = mem.stats?.inactive_file ?? mem.stats?.total_inactive_file ?? 0;
      add(c, {
        usageNs: s.cpu_stats?.cpu_usage?.total_usage ?? 0,
        memoryBytes: Math.max(0, (mem.usage ?? 0) - inactive),
        ...(mem.limit ? { limitBytes: mem.limit } : {}),
      });
    });
    this.layouts = layouts;
    this.prev = next;
    return out;
  }
}

/** `fn` over `items`, at most `limit` running at once (each next one starts as one ends). */
async function eachAtMost<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}
