// What a host reports before a deploy plans anything: OS, arch, Docker, free disk, the installed
// binary (checksum, version), checksums of its files, the service state.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, realpath, statfs } from 'node:fs/promises';
import { arch, platform, release } from 'node:os';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { VERSION } from '../version.ts';
import { cachedFileSha256, checksumCacheFile, fileSha256 } from './checksum.ts';
import type { ServiceSpec } from './op-schema.ts';
import { findOnPath, isSingleExecutable } from './processes.ts';
import { type ServiceState, serviceState } from './service.ts';

export interface HostFacts {
  os: string;
  arch: string;
  kernel: string;
  /** Pretty name from /etc/os-release, when there is one. */
  distro: string | null;
  /** socket: the engine socket exists (the docker service's, else /var/run/docker.sock); engine: the
   * version of the engine answering there (null: none answers; absent: a binary older than this). */
  docker: { cli: boolean; socket: boolean; engine?: string | null };
  freeDiskBytes: number;
  binary: { sha256: string; version: string } | null;
  files: Record<string, string | null>;
  service: ServiceState;
}

async function distro(): Promise<string | null> {
  try {
    const text = await readFile('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1] ?? null;
  } catch {
    return null;
  }
}

async function freeDisk(path: string): Promise<number> {
  let p = path;
  while (!existsSync(p)) p = dirname(p);
  const s = await statfs(p);
  return s.bavail * s.bsize;
}

async function dockerFacts(socket: string): Promise<HostFacts['docker']> {
  const cli = findOnPath('docker') !== null;
  if (!existsSync(socket)) return { cli, socket: false, engine: null };
  const { default: Docker } = await import('dockerode');
  const version = new Docker({ socketPath: socket }).version().then((v) => v.Version);
  const timeout = new Promise<null>((r) => setTimeout(() => r(null), 3000).unref());
  return { cli, socket: true, engine: await Promise.race([version, timeout]).catch(() => null) };
}

async function binaryFacts(path: string): Promise<HostFacts['binary']> {
  if (!existsSync(path)) return null;
  const sha256 = await cachedFileSha256(path, checksumCacheFile(path));
  // The op normally runs as that very binary: its version is ours, no second start needed.
  if (isSingleExecutable() && (await realpath(process.execPath)) === (await realpath(path)))
    return { sha256, version: VERSION };
  const { stdout } = await promisify(execFile)(path, ['--version'], { timeout: 30_000 });
  return { sha256, version: stdout.trim() };
}

export async function hostFacts(q: {
  binary: string;
  files: string[];
  diskPath: string;
  service: ServiceSpec;
}): Promise<HostFacts> {
  const files: Record<string, string | null> = {};
  for (const f of q.files) files[f] = existsSync(f) ? await fileSha256(f) : null;
  return {
    os: platform(),
    arch: arch(),
    kernel: release(),
    distro: await distro(),
    docker: await dockerFacts(q.service.mode === 'docker' ? q.service.socket : '/var/run/docker.sock'),
    freeDiskBytes: await freeDisk(q.diskPath),
    binary: await binaryFacts(q.binary),
    files,
    service: await serviceState(q.service),
  };
}
