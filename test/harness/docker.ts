// Docker for tests and benchmarks: the engine (never skipped: no engine is a failure with the command that
// starts one), the local busybox test image, a throwaway registry on loopback (Debian's docker-registry),
// push/pull, clean-up of test containers by label, and exec in a container.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import Docker from 'dockerode';
import { findOnPath } from '../../agent/op/processes.ts';
import { imagePresent } from '../../agent/runtime/images.ts';
import { stopChild } from './child.ts';
import { REPO } from './cluster.ts';
import { freePort } from './ports.ts';

export type { Docker };

export const BUSYBOX_IMAGE = 'nokube-test/busybox:1';
const DEFAULT_SOCKET = '/var/run/docker.sock';
const START_HINT = 'start one with scripts/docker-engine.sh start';

/** Where the engine is expected: DOCKER_HOST if set, else the default socket. */
export function dockerEndpoint(): string {
  return process.env.DOCKER_HOST || `unix://${DEFAULT_SOCKET}`;
}

// docker-modem reads DOCKER_HOST itself (unix://, tcp://, ssh://) when given no options.
const engineClient = () =>
  process.env.DOCKER_HOST ? new Docker() : new Docker({ socketPath: DEFAULT_SOCKET });

/** A client for the engine at DOCKER_HOST or /var/run/docker.sock; throws when no engine answers there. */
export async function requireDocker(): Promise<Docker> {
  const docker = engineClient();
  try {
    await withTimeout(docker.ping(), 5000, 'ping timed out after 5 s');
  } catch (err) {
    throw new Error(`no Docker engine at ${dockerEndpoint()} (${errorText(err)}): ${START_HINT}`, {
      cause: err,
    });
  }
  return docker;
}

/** Builds the busybox test image with scripts/busybox-image.sh unless the engine has it. Returns the ref. */
export async function ensureBusyboxImage(ref = BUSYBOX_IMAGE): Promise<string> {
  const docker = await requireDocker();
  if (await imageExists(docker, ref)) return ref;
  try {
    await promisify(execFile)('bash', [join(REPO, 'scripts/busybox-image.sh'), ref], { timeout: 120_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/busybox-image.sh ${ref} failed: ${(e.stderr || e.message).trim()}`, {
      cause: err,
    });
  }
  return ref;
}

export const imageExists = imagePresent;

export interface TestRegistry {
  /** `127.0.0.1:PORT`: prefix of image refs in this registry. The engine treats loopback registries as insecure (plain HTTP) by default. */
  host: string;
  dir: string;
  process: ChildProcess;
  /** With `accessLog`: each request's line of the registry's access log, as it came. */
  requests: string[];
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** It listens on every address, not only loopback (test hosts reach it at their gateway, their engines
   * take plain HTTP from 10.77.0.0/16: host-docker.ts); `host` stays the loopback one, which this
   * machine's engine pushes to without TLS. */
  everywhere?: boolean;
  /** Keep each request's line in `requests`. */
  accessLog?: boolean;
  /** Basic auth (an htpasswd file, bcrypt): every request needs this user and password. */
  auth?: { username: string; password: string };
}

/** A registry (Debian's docker-registry) on 127.0.0.1:<free port>, storage in a temp dir; ready when GET /v2/ answers. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const { everywhere = false, accessLog = false, auth } = opts;
  const bin = findOnPath('docker-registry');
  if (!bin)
    throw new Error(
      'docker-registry not found: apt-get install docker-registry (or scripts/install-deps.sh)',
    );
  const dir = await mkdtemp(join(tmpdir(), 'nokube-test-registry-'));
  const port = await freePort(everywhere ? '0.0.0.0' : '127.0.0.1');
  const host = `127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      `    disabled: ${!accessLog}`,
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${everywhere ? `0.0.0.0:${port}` : host}`,
      ...(auth
        ? ['auth:', '  htpasswd:', '    realm: nokube-test', `    path: ${join(dir, 'htpasswd')}`]
        : []),
      '',
    ].join('\n'),
  );
  if (auth) await writeFile(join(dir, 'htpasswd'), `${auth.username}:${bcrypt.hashSync(auth.password, 6)}\n`);
  const child = spawn(bin, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const requests: string[] = [];
  let partial = '';
  const onData = (d: Buffer) => {
    stderr = (stderr + d).slice(-4000);
    if (!accessLog) return;
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const l of lines) if (/"(GET|HEAD) \/v2\//.test(l)) requests.push(l);
  };
  child.stderr!.on('data', onData);
  child.stdout!.on('data', onData);
  const stop = async () => {
    await stopChild(child, 5000);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(
        `docker-registry on ${host} exited (${child.exitCode ?? child.signalCode}): ${stderr.trim()}`,
      );
    }
    try {
      const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(1000) });
      // With auth, a 401 is the answer of a registry that is up.
      if (res.ok || (auth && res.status === 401)) break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry on ${host} did not answer GET /v2/ within 15 s: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, dir, process: child, requests, stop };
}

/** Tags localRef as `registryHost/repoTag` (tag `latest` if none) and pushes it. Returns the pushed ref. */
export async function pushImage(
  docker: Docker,
  localRef: string,
  registryHost: string,
  repoTag: string,
  auth?: { username: string; password: string },
): Promise<string> {
  const { repo, tag } = splitRepoTag(`${registryHost}/${repoTag}`);
  await docker.getImage(localRef).tag({ repo, tag });
  const ref = `${repo}:${tag}`;
  try {
    // An empty auth config all the same: without an X-Registry-Auth header dockerd 20.10 answers 400
    // "Bad parameters and missing X-Registry-Auth".
    const authconfig = auth ? { ...auth, serveraddress: registryHost } : {};
    await followProgress(docker, await docker.getImage(ref).push({ authconfig }));
  } catch (err) {
    throw new Error(`push ${ref}: ${errorText(err)}`, { cause: err });
  }
  return ref;
}

/** Pulls ref (`latest` if untagged); rejects with the engine's error (e.g. manifest unknown) on failure. */
export async function pullImage(docker: Docker, ref: string): Promise<void> {
  const { repo, tag } = splitRepoTag(ref);
  try {
    await followProgress(docker, await docker.pull(`${repo}:${tag}`));
  } catch (err) {
    throw new Error(`pull ${repo}:${tag}: ${errorText(err)}`, { cause: err });
  }
}

/** Force-removes every container (running or not) that carries all these labels. Returns how many. */
export async function removeContainers(docker: Docker, labels: Record<string, string>): Promise<number> {
  const label = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  if (label.length === 0)
    throw new Error('removeContainers: give at least one label (it would remove every container)');
  const found = await docker.listContainers({ all: true, filters: { label } });
  let removed = 0;
  for (const c of found) {
    try {
      await docker.getContainer(c.Id).remove({ force: true, v: true });
      removed++;
    } catch (err) {
      // Gone already, or removal under way (another clean-up): fine.
      const code = (err as { statusCode?: number }).statusCode;
      if (code !== 404 && code !== 409) throw err;
    }
  }
  return removed;
}

/** Remove every container of a test cluster, running or not, when an engine answers (a test without
 * Docker made none). An agent killed at the end of a test leaves its pods' containers behind. */
export async function removeClusterContainers(cluster: string): Promise<void> {
  const docker = engineClient();
  try {
    await withTimeout(docker.ping(), 2000, 'no answer');
  } catch {
    return;
  }
  await removeContainers(docker, { 'nokube.cluster': cluster });
}

/** `host:port/name:tag` -> repo and tag; the colon of a registry port is not a tag. */
export function splitRepoTag(ref: string): { repo: string; tag: string } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: 'latest' };
}

// Push and pull report failures inside the JSON progress stream (HTTP 200 already sent): read it to the end.
function followProgress(docker: Docker, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: string | undefined;
    docker.modem.followProgress(
      stream,
      (err: Error | null) => {
        if (err) reject(err);
        else if (failure) reject(new Error(failure));
        else resolve();
      },
      (event: { error?: string; errorDetail?: { message?: string } }) => {
        if (event.error || event.errorDetail) failure ??= event.errorDetail?.message ?? event.error;
      },
    );
  });
}

function errorText(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string; code?: string };
  return e.json?.message ?? e.message ?? e.code ?? String(err);
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Run `cmd` in a running container (docker exec, no TTY): its stdout and stderr together. */
export async function execIn(docker: Docker, containerId: string, cmd: string[]): Promise<string> {
  const ex = await docker
    .getContainer(containerId)
    .exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await ex.start({ hijack: true, stdin: false });
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (d: Buffer) => chunks.push(d));
  docker.modem.demuxStream(stream, sink, sink);
  await new Promise((r) => stream.on('end', r));
  return Buffer.concat(chunks).toString('utf8');
}

/** A pod's network namespace on an engine, as /proc/<pid>/ns/net of its sandbox (the pod network's
 * container holding it): for a client or server run there with `nsenter --net=` (test/harness/netns-client.ts). */
export async function podNetnsPath(docker: Docker, cluster: string, pod: string): Promise<string> {
  const [info] = await docker.listContainers({
    filters: { label: [`nokube.cluster=${cluster}`, `nokube.pod=${pod}`, 'nokube.sandbox=true'] },
  });
  if (!info) throw new Error(`no running sandbox of pod ${pod} (cluster ${cluster})`);
  const { State } = await docker.getContainer(info.Id).inspect();
  return `/proc/${State.Pid}/ns/net`;
}
