// What a host reports before a deploy plans anything: OS, arch, Docker, free disk, the installed
// binary (checksum, version), checksums of its files, the service state.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, realpath, statfs } from 'node:fs/promises';
import { arch, platform, release } from 'node:os';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { findOnPath, isSingleExecutable } from '../local/processes.ts';
import { VERSION } from '../version.ts';
import { cachedFileSha256, checksumCacheFile, fileSha256 } from './checksum.ts';
import type { ServiceSpec } from './op-schema.ts';
import { type ServiceState, serviceState } from './service.ts';

export interface HostFacts {
  os: string;
  arch: string;
  kernel: string;
  /** Pretty name from /etc/os-release, when there is one. */
  distro: string | null;
  docker: { cli: boolean; socket: boolean };
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
    docker: { cli: findOnPath('docker') !== null, socket: existsSync('/var/run/docker.sock') },
    freeDiskBytes: await freeDisk(q.diskPath),
    binary: await binaryFacts(q.binary),
    files,
    service: await serviceState(q.service),
  };
}
