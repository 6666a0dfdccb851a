// What a node is: capacity and OS facts reported in its etcd record (systeminformation, read once at start).
import os from 'node:os';
import si from 'systeminformation';

export interface NodeFacts {
  cpus: number;
  memoryBytes: number;
  disks: Array<{ mount: string; sizeBytes: number }>;
  gpus: Array<{ vendor: string; model: string; memoryMB: number | null }>;
  os: { platform: string; distro: string; release: string; kernel: string; arch: string };
}

/** Filesystems that are not disks a workload could use. */
const PSEUDO_FS = /^(tmpfs|devtmpfs|overlay|squashfs|proc|sysfs|cgroup2?|nsfs|fuse\..*)$/;

export async function readNodeFacts(): Promise<NodeFacts> {
  const [osInfo, fsSizes, graphics] = await Promise.all([
    si.osInfo(),
    si.fsSize().catch(() => []),
    si.graphics().catch(() => ({ controllers: [] as si.Systeminformation.GraphicsControllerData[] })),
  ]);
  return {
    cpus: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    disks: fsSizes
      .filter((d) => d.mount.startsWith('/') && !PSEUDO_FS.test(d.type) && d.size > 0)
      .map((d) => ({ mount: d.mount, sizeBytes: d.size })),
    gpus: graphics.controllers
      .filter((g) => g.vram !== null && g.vram > 0)
      .map((g) => ({ vendor: g.vendor, model: g.model, memoryMB: g.vram })),
    os: {
      platform: osInfo.platform,
      distro: osInfo.distro,
      release: osInfo.release,
      kernel: osInfo.kernel,
      arch: osInfo.arch,
    },
  };
}
