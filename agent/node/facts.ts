// What a node is: capacity and OS facts reported in its etcd record (systeminformation, read once at start).
import os from 'node:os';
import type Docker from 'dockerode';
import si from 'systeminformation';

export interface NodeFacts {
  cpus: number;
  memoryBytes: number;
  disks: Array<{ mount: string; sizeBytes: number }>;
  gpus: Array<{ vendor: string; model: string; memoryMB: number | null }>;
  os: { platform: string; distro: string; release: string; kernel: string; arch: string };
  /** The container engine that answered at agent start (at nodes[].dockerSocket, else DOCKER_HOST or the
   * default socket); null: none, so the node can run no pods until its agent is restarted with an engine
   * running. */
  containerRuntime: { name: 'docker'; version: string; apiVersion: string } | null;
}

/** Filesystems that are not disks a workload could use (node facts, and the metrics' disk figures). */
export const PSEUDO_FS =
  /^(tmpfs|devtmpfs|overlay|squashfs|proc|sysfs|cgroup2?|nsfs|autofs|mqueue|debugfs|tracefs|securityfs|pstore|bpf|configfs|fusectl|hugetlbfs|binfmt_misc|devpts|rpc_pipefs|ramfs|fuse\..*)$/;

export async function readNodeFacts(docker: Docker): Promise<NodeFacts> {
  const [osInfo, fsSizes, graphics, containerRuntime] = await Promise.all([
    si.osInfo(),
    si.fsSize().catch(() => []),
    si.graphics().catch(() => ({ controllers: [] as si.Systeminformation.GraphicsControllerData[] })),
    readContainerRuntime(docker),
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
    containerRuntime,
  };
}

/** Docker's version, or null when the engine does not answer within 2 s (the agent asks again later). */
export async function readContainerRuntime(docker: Docker): Promise<NodeFacts['containerRuntime']> {
  const version = docker.version();
  const timeout = new Promise<null>((r) => setTimeout(() => r(null), 2000).unref());
  const v = await Promise.race([version, timeout]).catch(() => null);
  return v ? { name: 'docker', version: v.Version, apiVersion: v.ApiVersion } : null;
}
