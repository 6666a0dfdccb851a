// The agent as a Docker container, driven through the engine's API at spec.socket (dockerode): the image
// is built on the host from the installed binary (agent-image.ts); the container, named spec.name, runs
// with the host's network and pid namespace, restart policy unless-stopped, spec.mounts at their own
// paths, the engine's data root read-only (image garbage collection measures that disk), and labels
// saying what it runs (image, command, spec.labels such as the config's checksum);
// with the host's networking tools in its image and the rights a pod network needs (POD_NETWORK_RIGHTS)
// when the cluster has one.
// start: a running container is left alone, else (re)created; restart: recreated when what it runs
// differs, else restarted; stop: stopped (SIGTERM, SIGKILL after stopTimeoutMs) and removed.
import { existsSync } from 'node:fs';
import Docker from 'dockerode';
import { ensureAgentImage, IMAGE_BINARY } from './agent-image.ts';
import { fileSha256 } from './checksum.ts';
import type { ServiceSpecOf } from './op-schema.ts';
import type { ServiceState } from './service.ts';

type Spec = ServiceSpecOf<'docker'>;

const LABEL = {
  service: 'nokube.service',
  command: 'nokube.service.command',
  binary: 'nokube.service.binary-sha256',
} as const;

const stopped: ServiceState = { mode: 'docker', state: 'stopped', pid: null, command: null };

function client(spec: Spec): Docker {
  if (!existsSync(spec.socket)) throw new Error(`no Docker engine socket at ${spec.socket}`);
  return new Docker({ socketPath: spec.socket });
}

const statusCode = (err: unknown) => (err as { statusCode?: number }).statusCode;

async function inspect(docker: Docker, name: string): Promise<Docker.ContainerInspectInfo | null> {
  try {
    return await docker.getContainer(name).inspect();
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw new Error(`docker inspect ${name}: ${(err as Error).message}`);
  }
}

function toState(c: Docker.ContainerInspectInfo | null): ServiceState {
  if (!c?.State.Running || c.State.Restarting) return stopped;
  const label = c.Config.Labels?.[LABEL.command];
  return {
    mode: 'docker',
    state: 'running',
    pid: c.State.Pid,
    command: label ? (JSON.parse(label) as string[]) : [c.Path, ...c.Args],
    container: c.Id,
  };
}

export async function state(spec: Spec): Promise<ServiceState> {
  // No engine socket at all: nothing can run there (the plan says why Docker is missing).
  if (!existsSync(spec.socket)) return stopped;
  return toState(await inspect(client(spec), spec.name));
}

/** What the agent of a pod network does on its host, and no more (not `--privileged`: every capability
 * and device, which a host whose own bounding set lacks one cannot even give): NET_ADMIN for bridges,
 * veths, routes, nftables and conntrack; SYS_ADMIN to enter a pod's network namespace (setns, which
 * Docker's seccomp profile allows with it); /proc/sys writable (ip_forward, the pods' veths' route_localnet
 * and proxy ARP: Docker mounts it read-only, and its AppArmor profile denies the writes). */
export const POD_NETWORK_RIGHTS = {
  CapAdd: ['NET_ADMIN', 'SYS_ADMIN'],
  SecurityOpt: ['apparmor=unconfined'],
  // `--security-opt systempaths=unconfined` as the API takes it: nothing masked, nothing read-only.
  MaskedPaths: [] as string[],
  ReadonlyPaths: [] as string[],
};

interface Desired {
  image: string;
  labels: Record<string, string>;
  libraryDirs: string[];
  podNetwork: boolean;
  /** Binds: spec.mounts at their own paths, and the engine's data root (DockerRootDir) read-only. */
  binds: string[];
}

async function desired(docker: Docker, spec: Spec): Promise<Desired> {
  const binary = spec.command[0]!;
  const sha = await fileSha256(binary).catch((err: Error) => {
    throw new Error(`${spec.name}: the binary ${binary}: ${err.message}`);
  });
  const { ref, libraryDirs } = await ensureAgentImage(docker, spec.image, binary, sha, spec.podNetwork);
  const labels = {
    ...spec.labels,
    [LABEL.service]: spec.name,
    [LABEL.command]: JSON.stringify(spec.command),
    [LABEL.binary]: sha,
  };
  const root = (await docker.info()).DockerRootDir as string | undefined;
  const binds = spec.mounts.map((p) => `${p}:${p}`);
  if (root && !spec.mounts.includes(root)) binds.push(`${root}:${root}:ro`);
  return { image: ref, labels, libraryDirs, podNetwork: spec.podNetwork, binds };
}

function same(c: Docker.ContainerInspectInfo, d: Desired): boolean {
  const have = c.Config.Labels ?? {};
  return (
    c.Config.Image === d.image &&
    (c.HostConfig.CapAdd ?? []).join() === (d.podNetwork ? POD_NETWORK_RIGHTS.CapAdd : []).join() &&
    Object.entries(d.labels).every(([k, v]) => have[k] === v) &&
    [...(c.HostConfig.Binds ?? [])].sort().join() === [...d.binds].sort().join()
  );
}

const stopSeconds = (spec: Spec) => Math.max(1, Math.ceil(spec.stopTimeoutMs / 1000));

async function removeContainer(docker: Docker, spec: Spec): Promise<void> {
  const c = docker.getContainer(spec.name);
  try {
    await c.stop({ t: stopSeconds(spec) });
  } catch (err) {
    if (statusCode(err) !== 304 && statusCode(err) !== 404)
      throw new Error(`docker stop ${spec.name}: ${(err as Error).message}`);
  }
  try {
    await c.remove({ force: true });
  } catch (err) {
    if (statusCode(err) !== 404) throw new Error(`docker rm ${spec.name}: ${(err as Error).message}`);
  }
}

async function create(docker: Docker, spec: Spec, d: Desired): Promise<ServiceState> {
  const [, ...args] = spec.command;
  const container = await docker.createContainer({
    name: spec.name,
    Image: d.image,
    Entrypoint: [IMAGE_BINARY],
    Cmd: args,
    Env: [`LD_LIBRARY_PATH=${d.libraryDirs.join(':')}`],
    Labels: d.labels,
    StopTimeout: stopSeconds(spec),
    HostConfig: {
      NetworkMode: 'host',
      PidMode: 'host',
      ...(d.podNetwork ? POD_NETWORK_RIGHTS : {}),
      RestartPolicy: { Name: 'unless-stopped' },
      Binds: d.binds,
    },
  });
  await container.start();
  const first = await container.inspect();
  // A service that dies at once (bad flags, bad config) is a failed start: stopped (kept for its logs).
  await new Promise((r) => setTimeout(r, 500));
  const now = await container.inspect();
  if (
    !now.State.Running ||
    now.State.Restarting ||
    now.RestartCount > 0 ||
    now.State.Pid !== first.State.Pid
  ) {
    const logs = await container.logs({ stdout: true, stderr: true, tail: 5 }).catch(() => Buffer.alloc(0));
    await container.stop({ t: 0 }).catch(() => undefined);
    const tail = demux(logs as Buffer)
      .trim()
      .split('\n')
      .join(' | ');
    throw new Error(
      `start ${spec.name}: the container exited at once (code ${now.State.ExitCode}); docker logs ${spec.name}: ${tail}`,
    );
  }
  await removeOldImages(docker, spec, d.image);
  return toState(now);
}

/** The engine's multiplexed log stream (8-byte frame headers) as text. */
function demux(b: Buffer): string {
  let out = '';
  for (let i = 0; i + 8 <= b.length; ) {
    const n = b.readUInt32BE(i + 4);
    out += b.subarray(i + 8, i + 8 + n).toString();
    i += 8 + n;
  }
  return out;
}

/** Images of the repository that no container uses any more (older binaries). Best effort. */
async function removeOldImages(docker: Docker, spec: Spec, keep: string): Promise<void> {
  const images = await docker.listImages({ filters: { reference: [spec.image] } }).catch(() => []);
  for (const img of images) {
    if ((img.RepoTags ?? []).includes(keep)) continue;
    await docker
      .getImage(img.Id)
      .remove()
      .catch(() => undefined); // in use (409): kept
  }
}

export async function start(spec: Spec): Promise<ServiceState> {
  const docker = client(spec);
  const c = await inspect(docker, spec.name);
  if (c && toState(c).state === 'running') return toState(c);
  const d = await desired(docker, spec);
  if (c) await removeContainer(docker, spec);
  return create(docker, spec, d);
}

export async function restart(spec: Spec): Promise<ServiceState> {
  const docker = client(spec);
  const c = await inspect(docker, spec.name);
  const d = await desired(docker, spec);
  if (c && same(c, d)) {
    await docker.getContainer(spec.name).restart({ t: stopSeconds(spec) });
    return toState(await inspect(docker, spec.name));
  }
  if (c) await removeContainer(docker, spec);
  return create(docker, spec, d);
}

export async function stop(spec: Spec): Promise<ServiceState> {
  if (!existsSync(spec.socket)) return stopped;
  const docker = client(spec);
  if (await inspect(docker, spec.name)) await removeContainer(docker, spec);
  return stopped;
}
