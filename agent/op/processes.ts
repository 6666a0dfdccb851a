// Child processes of a local bring-up: etcd from Debian's etcd-server, and agents run from this binary.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { createEtcd } from '../store/etcd.ts';

/** The command that runs this same program: the single binary itself, or node + the entry script. */
export function selfCommand(): [string, string[]] {
  if (isSingleExecutable()) return [process.execPath, []];
  return [process.execPath, [...process.execArgv, process.argv[1]!]];
}

export function isSingleExecutable(): boolean {
  try {
    // node:sea exists only in Node >= 20; isSea() is true inside a single executable application.
    const sea = process.getBuiltinModule?.('node:sea') as { isSea(): boolean } | undefined;
    return sea?.isSea() ?? false;
  } catch {
    return false;
  }
}

/** Whether a process with this pid exists (signal 0 checks without signalling). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {}
  }
  return null;
}

export interface Child {
  name: string;
  process: ChildProcess;
  log: string;
}

export async function spawnLogged(
  name: string,
  cmd: string,
  args: string[],
  logDir: string,
  detach: boolean,
): Promise<Child> {
  await mkdir(logDir, { recursive: true });
  const log = join(logDir, `${name}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, {
    stdio: ['ignore', fd, fd],
    detached: detach,
    env: { ...process.env, NOKUBE_LOG_LEVEL: process.env.NOKUBE_LOG_LEVEL ?? 'info' },
  });
  if (detach) child.unref();
  return { name, process: child, log };
}

export interface LocalEtcd {
  clientUrl: string;
  dataDir: string;
}

/** Start a one-member etcd on loopback with its data under `dir`. */
export async function startEtcd(clientUrl: string, dir: string, detach: boolean): Promise<Child> {
  const bin = findOnPath('etcd');
  if (!bin) {
    throw new Error(
      "etcd not found on PATH: install Debian's etcd-server (apt-get install etcd-server) or point etcd.endpoints at a running etcd",
    );
  }
  const url = new URL(clientUrl);
  const peerPort = Number(url.port) + 1;
  const dataDir = join(dir, 'etcd');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const peerUrl = `http://${url.hostname}:${peerPort}`;
  return spawnLogged(
    'etcd',
    bin,
    [
      '--name',
      'nokube-local',
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      clientUrl,
      '--advertise-client-urls',
      clientUrl,
      '--listen-peer-urls',
      peerUrl,
      '--initial-advertise-peer-urls',
      peerUrl,
      '--initial-cluster',
      `nokube-local=${peerUrl}`,
      '--log-level',
      'warn',
    ],
    join(dir, 'logs'),
    detach,
  );
}

/** Wait until etcd answers, or the child dies, or the time is up. */
export async function waitForEtcd(
  clientUrl: string,
  child: Child | null,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (child && child.process.exitCode !== null) throw await exitedError(child);
    const client = await createEtcd({ endpoints: [clientUrl], dialTimeoutMs: 1000 });
    try {
      await client.get('/nokube/.probe').string();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      client.close();
    }
  }
  throw new Error(
    `etcd at ${clientUrl} did not answer within ${timeoutMs} ms${child ? `; see ${child.log}` : ''}`,
  );
}

export async function isEtcdUp(clientUrl: string): Promise<boolean> {
  try {
    await waitForEtcd(clientUrl, null, 1000);
    return true;
  } catch {
    return false;
  }
}

/** A child that exited early, told with the last line of its log. */
export async function exitedError(c: Child): Promise<Error> {
  return new Error(
    `${c.name} exited with code ${c.process.exitCode}: ${await lastLine(c.log)} (log ${c.log})`,
  );
}

/** The last line of a child's log, as a message: an agent's (pino) or zap JSON record gives its msg and
 * error; etcd's capnslog line (`2026-11-23 12:39:29.000311 C | etcdmain: listen tcp …`) loses its prefix. */
async function lastLine(file: string): Promise<string> {
  const lines = (await readFile(file, 'utf8').catch(() => '')).trim().split('\n');
  const last = lines.at(-1) ?? '';
  try {
    const rec = JSON.parse(last) as { msg?: string; err?: string; error?: string };
    return [rec.msg, rec.err ?? rec.error].filter(Boolean).join(': ');
  } catch {
    return last.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ [A-Z] \| /, '');
  }
}
