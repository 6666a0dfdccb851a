// A Docker engine of a test host's own (test/harness/hosts.ts): dockerd, with the containerd it starts,
// runs inside the host's network namespace (nsenter --net: the mounts stay the machine's, so cgroups are
// there), so a container with the host network shares the host's address. Its data root, socket and pid
// file are under the host's directory, its exec root a short path under /run (socket path limits);
// --iptables=false --bridge=none as scripts/docker-engine.sh (this sandbox allows neither). Stopped by
// stop() (dockerd stops its containers first); a run that crashed leaves engines that the next run's
// sweep ends (their exec root names the dead run's pid).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { alive } from '../../agent/op/processes.ts';
import { stopChild } from './child.ts';

const NSENTER = '/usr/bin/nsenter';
const DOCKERD = '/usr/sbin/dockerd';

export interface HostEngine {
  socket: string;
  process: ChildProcess;
  log: string;
  stop(): Promise<void>;
}

const EXEC_ROOT = /--exec-root=?\s*\/run\/nk(\d+)h\d+d/;

/** SIGTERM to dockerds of test hosts whose run (the pid in their exec root) is gone. */
export async function sweepStaleEngines(): Promise<void> {
  for (const pid of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!argv.startsWith(DOCKERD) && !argv.startsWith('dockerd')) continue;
    const m = EXEC_ROOT.exec(argv.split('\0').join(' '));
    if (m && !alive(Number(m[1]))) {
      try {
        process.kill(Number(pid), 'SIGTERM');
      } catch {}
    }
  }
}

export async function startHostEngine(netns: string, dir: string, execRoot: string): Promise<HostEngine> {
  for (const [bin, pkg] of [
    [NSENTER, 'util-linux'],
    [DOCKERD, 'docker.io'],
  ] as const)
    if (!existsSync(bin))
      throw new Error(`${bin} not found: apt-get install ${pkg} (docker-mode test hosts)`);
  const socket = join(dir, 'docker.sock');
  const log = join(dir, 'dockerd.log');
  const fd = openSync(log, 'a');
  const child = spawn(
    NSENTER,
    [
      `--net=/var/run/netns/${netns}`,
      DOCKERD,
      '--iptables=false',
      '--bridge=none',
      // Test registries on the hosts' gateway speak plain HTTP (docker.ts startRegistry).
      '--insecure-registry=10.77.0.0/16',
      '--data-root',
      join(dir, 'docker'),
      '--exec-root',
      execRoot,
      '--pidfile',
      join(dir, 'docker.pid'),
      '-H',
      `unix://${socket}`,
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const tail = async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').slice(-5).join(' | ');
  const stop = async () => {
    await stopChild(child, 20_000);
    // dockerd leaves its bind mount of the namespace there
    try {
      execFileSync('umount', [join(execRoot, 'netns', 'default')], { stdio: 'ignore' });
    } catch {}
    await rm(execRoot, { recursive: true, force: true }).catch(() => undefined);
  };
  const docker = new Docker({ socketPath: socket });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`dockerd in ${netns} exited ${child.exitCode}: ${await tail()}`);
    if (
      existsSync(socket) &&
      (await docker.ping().then(
        () => true,
        () => false,
      ))
    )
      break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`dockerd in ${netns} did not answer on ${socket} within 30 s: ${await tail()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { socket, process: child, log, stop };
}
