// What a node is: capacity and OS facts reported in its etcd record, read once at start from the kernel
// and /etc (GPUs by systeminformation, only where there is a display device).
import { access, readdir, readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import type Docker from 'dockerode';
import { parseMounts } from './mounts.ts';

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

export async function readNodeFacts(docker: Docker): Promise<NodeFacts> {
  const [release, disks, gpus, containerRuntime] = await Promise.all([
    readOsRelease(),
    readDisks(),
    readGpus(),
    readContainerRuntime(docker),
  ]);
  return {
    cpus: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    disks,
    gpus,
    os: { platform: os.platform(), ...release, kernel: os.release(), arch: os.arch() },
    containerRuntime,
  };
}

/** The distribution's name and version from os-release(5) ('unknown' where the file or field is missing). */
async function readOsRelease(): Promise<{ distro: string; release: string }> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() =>
    readFile('/usr/lib/os-release', 'utf8').catch(() => ''),
  );
  return parseOsRelease(text);
}

/** os-release(5): `KEY=value` lines, values maybe quoted. */
export function parseOsRelease(text: string): { distro: string; release: string } {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(["']?)(.*)\2$/.exec(line.trim());
    if (m) fields.set(m[1]!, m[3]!);
  }
  return { distro: fields.get('NAME') ?? 'unknown', release: fields.get('VERSION_ID') ?? 'unknown' };
}

async function readDisks(): Promise<NodeFacts['disks']> {
  const mounts = parseMounts(await readFile('/proc/mounts', 'utf8').catch(() => ''));
  const sized = await Promise.all(
    mounts.map(({ mount }) =>
      statfs(mount).then(
        (s) => ({ mount, sizeBytes: s.blocks * s.bsize }),
        () => ({ mount, sizeBytes: 0 }),
      ),
    ),
  );
  return sized.filter((d) => d.sizeBytes > 0);
}

/** GPUs by systeminformation (lspci, nvidia-smi): loaded only on a host with a display device in
 * /sys/class/drm or an NVIDIA driver, so most edge hosts start without it (its load and the ~30 processes
 * its OS and graphics reads spawned cost 150–250 ms of every start). */
async function readGpus(): Promise<NodeFacts['gpus']> {
  const drm = await readdir('/sys/class/drm').catch(() => [] as string[]);
  const nvidia = await access('/proc/driver/nvidia').then(
    () => true,
    () => false,
  );
  if (!nvidia && !drm.some((d) => /^card\d+$/.test(d))) return [];
  const { default: si } = await import('systeminformation');
  const graphics = await si.graphics().catch(() => ({ controllers: [] }));
  return graphics.controllers
    .filter((g) => g.vram !== null && g.vram > 0)
    .map((g) => ({ vendor: g.vendor, model: g.model, memoryMB: g.vram }));
}

/** Docker's version, or null when the engine does not answer within 2 s (the agent asks again later). */
export async function readContainerRuntime(docker: Docker): Promise<NodeFacts['containerRuntime']> {
  const version = docker.version();
  const timeout = new Promise<null>((r) => setTimeout(() => r(null), 2000).unref());
  const v = await Promise.race([version, timeout]).catch(() => null);
  return v ? { name: 'docker', version: v.Version, apiVersion: v.ApiVersion } : null;
}
