// The node's figures, read straight from Linux's /proc and statfs with async reads: a handful of small
// files per sample, no child process. (systeminformation, which reads the node's facts once at start,
// runs `cat /proc/stat` with execSync for CPU load and a shell per interface for network counters: a
// blocked event loop and a fork per sample, so it is not used here.)
import { readFile, statfs } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseMounts } from '../node/mounts.ts';
import type { NodeSample } from './sample.ts';

interface CpuTimes {
  busy: number;
  total: number;
}

/** Interfaces that are not traffic off the host. */
const SKIP_IFACE = /^(lo|veth.*|docker\d*|br-.*)$/;
/** Mounts are re-read this often (they rarely change); statfs runs every sample. */
const MOUNTS_EVERY_MS = 60_000;

export class NodeSampler {
  private prevCpu: CpuTimes[] | undefined;
  private prevNet: { at: number; byIface: Map<string, { rx: number; tx: number }> } | undefined;
  private mounts: Array<{ mount: string; device: string }> = [];
  private mountsAt = 0;

  /** The node part of a sample (containers are filled in by the caller). */
  async sample(node: string): Promise<Omit<NodeSample, 'containers'>> {
    const now = Date.now();
    const [stat, meminfo, netdev] = await Promise.all([
      readFile('/proc/stat', 'utf8'),
      readFile('/proc/meminfo', 'utf8'),
      readFile('/proc/net/dev', 'utf8'),
    ]);
    if (now - this.mountsAt >= MOUNTS_EVERY_MS) {
      this.mounts = parseMounts(await readFile('/proc/mounts', 'utf8'));
      this.mountsAt = now;
    }
    const disks = await Promise.all(
      this.mounts.map(async (m) => {
        try {
          const s = await statfs(m.mount);
          const sizeBytes = s.blocks * s.bsize;
          return { ...m, sizeBytes, usedBytes: (s.blocks - s.bfree) * s.bsize };
        } catch {
          return undefined;
        }
      }),
    );
    const [l1, l5, l15] = loadavg() as [number, number, number];
    return {
      at: now,
      node,
      cpu: this.cpu(parseCpuTimes(stat)),
      load: [l1, l5, l15],
      ...memory(parseMeminfo(meminfo)),
      network: this.network(parseNetDev(netdev), now),
      disks: disks.filter((d): d is NonNullable<typeof d> => d !== undefined && d.sizeBytes > 0),
    };
  }

  private cpu(times: CpuTimes[]): NodeSample['cpu'] {
    const prev = this.prevCpu;
    this.prevCpu = times;
    const ratio = (now: CpuTimes, before: CpuTimes | undefined) => {
      if (!before) return 0;
      const total = now.total - before.total;
      return total > 0 ? Math.min(1, Math.max(0, (now.busy - before.busy) / total)) : 0;
    };
    // times[0] is the "cpu" line (all cores), then cpu0, cpu1, ...
    return {
      total: ratio(times[0]!, prev?.[0]),
      cores: times.slice(1).map((t, i) => ratio(t, prev?.[i + 1])),
    };
  }

  private network(byIface: Map<string, { rx: number; tx: number }>, at: number): NodeSample['network'] {
    const prev = this.prevNet;
    this.prevNet = { at, byIface };
    const out: NodeSample['network'] = [];
    for (const [iface, now] of byIface) {
      const before = prev?.byIface.get(iface);
      const secs = prev ? (at - prev.at) / 1000 : 0;
      // A counter that went down (interface re-created) starts over: no rate for this sample.
      const rate = (a: number, b: number | undefined) =>
        b !== undefined && secs > 0 && a >= b ? (a - b) / secs : 0;
      out.push({
        iface,
        rxBytesPerSecond: rate(now.rx, before?.rx),
        txBytesPerSecond: rate(now.tx, before?.tx),
      });
    }
    return out;
  }
}

export function parseCpuTimes(stat: string): CpuTimes[] {
  const out: CpuTimes[] = [];
  for (const line of stat.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    // user nice system idle iowait irq softirq steal guest guest_nice (guest is counted in user already)
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
    const idleAll = idle + iowait;
    const busy = user + nice + system + irq + softirq + steal;
    out.push({ busy, total: busy + idleAll });
  }
  return out;
}

export function parseMeminfo(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (match) m.set(match[1]!, Number(match[2]) * (line.endsWith('kB') ? 1024 : 1));
  }
  return m;
}

function memory(m: Map<string, number>): Pick<NodeSample, 'memory' | 'swap'> {
  const total = m.get('MemTotal') ?? 0;
  // MemAvailable: what can be given to programs without swapping (page cache included); used is the rest.
  const available = m.get('MemAvailable') ?? m.get('MemFree') ?? 0;
  const swapTotal = m.get('SwapTotal') ?? 0;
  return {
    memory: { totalBytes: total, usedBytes: Math.max(0, total - available), availableBytes: available },
    swap: { totalBytes: swapTotal, usedBytes: Math.max(0, swapTotal - (m.get('SwapFree') ?? 0)) },
  };
}

export function parseNetDev(text: string): Map<string, { rx: number; tx: number }> {
  const out = new Map<string, { rx: number; tx: number }>();
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const iface = line.slice(0, colon).trim();
    if (SKIP_IFACE.test(iface)) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    out.set(iface, { rx: f[0] ?? 0, tx: f[8] ?? 0 });
  }
  return out;
}
