// Test hosts for the deploy and fault tests: N network namespaces on one private /24 (10.77.<k>.0/24),
// each joined to a bridge in the root namespace by a veth pair (the bridge holds .1, the gateway, so this
// process reaches every host and the hosts reach services on the root side), each running its own Debian
// sshd unless told not to (own host key, own config, key-only auth with a key pair made for this run). The filesystem is shared,
// so every host gets its own directory (install dir, workspace) that the deploy config passes along.
// Never a mock: no sshd / ssh-keygen / ip -> the test fails with the install hint. Root is required
// (namespaces); everything is removed by stop(), at process exit, and by the next run if a run crashed.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive } from '../../agent/op/processes.ts';
import { type HostEngine, startHostEngine, sweepStaleEngines } from './host-docker.ts';

export interface TestHost {
  /** Node name for the cluster config (h0, h1, ...). */
  name: string;
  /** Its address on the private /24; sshd listens on port 22 there. */
  address: string;
  netns: string;
  /** The root side of its veth pair: setting it down cuts the host off (packets dropped, not refused). */
  veth: string;
  /** Root of this host's files on the shared filesystem; install and workspace dirs are under it. */
  dir: string;
  installDir: string;
  workspaceDir: string;
  /** Public host key, OpenSSH one-line form ("ssh-ed25519 AAAA..."). */
  hostKey: string;
  /** Absent with `sshd: false`. */
  sshd?: ChildProcess;
  /** Its own Docker engine's socket (startTestHosts with `docker`), inside its network namespace. */
  dockerSocket?: string;
}

export interface TestHosts {
  hosts: TestHost[];
  /** The gateway address (root side of the bridge): where services for the hosts listen. */
  gateway: string;
  /** The bridge in the root namespace: what leaves it is what the root side sends to the hosts. */
  bridge: string;
  user: string;
  /** Private key (OpenSSH format) the hosts accept; its path too. */
  privateKey: string;
  privateKeyPath: string;
  /** A known_hosts file with one line per host. */
  knownHostsPath: string;
  stop(): Promise<void>;
}

const IP = '/usr/sbin/ip';
const SSHD = '/usr/sbin/sshd';
const KEYGEN = '/usr/bin/ssh-keygen';
const BR_NF = '/proc/sys/net/bridge/bridge-nf-call-iptables';

const run = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const tryRun = (cmd: string, args: string[]) => {
  try {
    run(cmd, args);
  } catch {
    // best effort (cleanup of something already gone)
  }
};

// Names carry the owning pid so a crashed run's leftovers are recognised and removed: nk<pid>h<i> is a
// namespace, nk<pid>v<i> the root side of its veth, nk<pid>b the bridge (interface names: 15 chars max).
const NAME = /^nk(\d+)[hb]/;

/** Remove namespaces and links left by runs whose process is gone. */
function sweepStale(): void {
  for (const line of run(IP, ['netns', 'list']).split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    const m = NAME.exec(ns);
    if (m && !alive(Number(m[1]))) tryRun(IP, ['netns', 'del', ns]);
  }
  for (const line of run(IP, ['-o', 'link', 'show']).split('\n')) {
    const dev = (line.split(': ')[1] ?? '').split('@')[0] ?? '';
    const m = /^nk(\d+)[vb]/.exec(dev);
    if (m && !alive(Number(m[1]))) tryRun(IP, ['link', 'del', dev]);
  }
}

// Test files run side by side (package.json's --test-concurrency). A /24 is claimed by a file
// CLAIMS/<n>.<pid>: every claimer writes its own, then lists the claims of <n>; of the live ones the
// lowest pid wins and the others withdraw. Claims of dead processes are ignored and removed.
const CLAIMS = '/run/nokube-test-subnets';

function liveClaimers(n: number): number[] {
  const pids: number[] = [];
  for (const f of readdirSync(CLAIMS)) {
    const [net, pid] = f.split('.').map(Number);
    if (net !== n || !pid) continue;
    if (alive(pid)) pids.push(pid);
    else rmSync(join(CLAIMS, f), { force: true });
  }
  return pids;
}

/** Claim a /24 under 10.77.0.0/16 that no interface uses and no other live test process claimed. */
function claimSubnet(): number {
  mkdirSync(CLAIMS, { recursive: true });
  const used = run(IP, ['-o', '-4', 'addr', 'show']);
  for (let k = process.pid % 200; k < (process.pid % 200) + 250; k++) {
    const n = (k % 250) + 1;
    if (used.includes(` 10.77.${n}.`) || liveClaimers(n).length > 0) continue;
    const mine = join(CLAIMS, `${n}.${process.pid}`);
    writeFileSync(mine, '');
    if (Math.min(...liveClaimers(n)) === process.pid) return n;
    rmSync(mine, { force: true });
  }
  throw new Error('no free /24 under 10.77.0.0/16 for the test hosts');
}

const releaseSubnet = (n: number) => rmSync(join(CLAIMS, `${n}.${process.pid}`), { force: true });

function requireTools(sshd: boolean): void {
  if (process.getuid?.() !== 0) throw new Error('test hosts need root (ip netns): run the tests as root');
  const tools: Array<readonly [string, string]> = [
    [IP, 'iproute2'],
    [KEYGEN, 'openssh-client'],
  ];
  if (sshd) tools.push([SSHD, 'openssh-server']);
  for (const [bin, pkg] of tools) {
    if (!existsSync(bin))
      throw new Error(`${bin} not found: apt-get install ${pkg} (the deploy tests need real hosts)`);
  }
}

/** A fresh ed25519 key pair by ssh-keygen at `path` (private) and `path`.pub; returns the public key line. */
export async function keygen(path: string, comment: string): Promise<string> {
  run(KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return (await readFile(`${path}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
}

async function waitForPort(
  host: string,
  port: number,
  child: ChildProcess,
  stderr: () => string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd on ${host} exited ${child.exitCode}: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port, timeout: 500 });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd on ${host}:${port} did not answer in 10 s: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function sshdConfig(dir: string, address: string): string {
  return [
    'Port 22',
    `ListenAddress ${address}`,
    `HostKey ${join(dir, 'ssh_host_ed25519_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    // the files live under a temp dir on the shared filesystem; sshd's ownership checks of the path
    // (root-owned, not group-writable) would otherwise depend on how /tmp was made
    'StrictModes no',
    'Subsystem sftp internal-sftp',
    // A test host is a clean host: bash sources ~/.bashrc for a command run over SSH when it is the first
    // shell (SHLVL 0), and this machine's root has pyenv there (~100 processes, 1-2 s per command).
    'SetEnv SHLVL=1',
    'LogLevel ERROR',
    '',
  ].join('\n');
}

async function startSshd(ns: string, dir: string, address: string): Promise<ChildProcess> {
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation dir
  const sshd = spawn(IP, ['netns', 'exec', ns, SSHD, '-D', '-e', '-f', join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  sshd.stderr!.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  await waitForPort(address, 22, sshd, () => stderr);
  return sshd;
}

/** `docker`: each host gets a Docker engine of its own in its namespace (test/harness/host-docker.ts).
 * `sshd: false`: no sshd (hosts whose processes the test starts itself with `ip netns exec`). */
export async function startTestHosts(
  count: number,
  opts: { docker?: boolean; sshd?: boolean } = {},
): Promise<TestHosts> {
  const withSshd = opts.sshd !== false;
  requireTools(withSshd);
  sweepStale();
  if (opts.docker) await sweepStaleEngines();
  const engines: HostEngine[] = [];
  const tag = `nk${process.pid}`;
  const subnet = claimSubnet();
  const gateway = `10.77.${subnet}.1`;
  const root = await mkdtemp(join(tmpdir(), 'nokube-hosts-'));
  const bridge = `${tag}b`;
  const hosts: TestHost[] = [];
  let stopped = false;

  const teardownSync = () => {
    if (stopped) return;
    stopped = true;
    for (const h of hosts) if (h.sshd?.exitCode === null) h.sshd.kill('SIGKILL');
    for (const e of engines) if (e.process.exitCode === null) e.process.kill('SIGTERM');
    for (let i = 0; i < count; i++) {
      tryRun(IP, ['netns', 'del', `${tag}h${i}`]);
      tryRun(IP, ['link', 'del', `${tag}v${i}`]);
    }
    tryRun(IP, ['link', 'del', bridge]);
    releaseSubnet(subnet);
  };
  process.once('exit', teardownSync);

  try {
    run(IP, ['link', 'add', bridge, 'type', 'bridge']);
    run(IP, ['addr', 'add', `${gateway}/24`, 'dev', bridge]);
    run(IP, ['link', 'set', bridge, 'up']);

    const privateKeyPath = join(root, 'id_ed25519');
    const userKey = await keygen(privateKeyPath, 'nokube-test');
    const knownHosts: string[] = [];

    for (let i = 0; i < count; i++) {
      const ns = `${tag}h${i}`;
      const veth = `${tag}v${i}`;
      const address = `10.77.${subnet}.${10 + i}`;
      run(IP, ['netns', 'add', ns]);
      run(IP, ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      run(IP, ['link', 'set', veth, 'master', bridge]);
      run(IP, ['link', 'set', veth, 'up']);
      const inNs = (args: string[]) => run(IP, ['netns', 'exec', ns, IP, ...args]);
      inNs(['link', 'set', 'lo', 'up']);
      inNs(['addr', 'add', `${address}/24`, 'dev', 'eth0']);
      inNs(['link', 'set', 'eth0', 'up']);
      inNs(['route', 'add', 'default', 'via', gateway]);
      // As on a host without br_netfilter (nokube needs none; once something loads it, every new namespace
      // has it on): frames on the host's pod bridge do not pass the IP hooks.
      run(IP, ['netns', 'exec', ns, 'sh', '-c', `[ ! -e ${BR_NF} ] || echo 0 > ${BR_NF}`]);

      const dir = join(root, `h${i}`);
      const installDir = join(dir, 'install');
      const workspaceDir = join(dir, 'workspace');
      await mkdir(installDir, { recursive: true });
      await mkdir(workspaceDir, { recursive: true });
      const hostKey = await keygen(join(dir, 'ssh_host_ed25519_key'), `h${i}`);
      await writeFile(join(dir, 'authorized_keys'), `${userKey}\n`, { mode: 0o600 });
      await writeFile(join(dir, 'sshd_config'), sshdConfig(dir, address));
      knownHosts.push(`${address} ${hostKey}`);

      hosts.push({ name: `h${i}`, address, netns: ns, veth, dir, installDir, workspaceDir, hostKey });
      if (withSshd) hosts[i]!.sshd = await startSshd(ns, dir, address);
      if (opts.docker) {
        const engine = await startHostEngine(ns, dir, `/run/${tag}h${i}d`);
        engines.push(engine);
        hosts[i]!.dockerSocket = engine.socket;
      }
    }

    const knownHostsPath = join(root, 'known_hosts');
    await writeFile(knownHostsPath, `${knownHosts.join('\n')}\n`);
    return {
      hosts,
      gateway,
      bridge,
      user: 'root',
      privateKey: await readFile(privateKeyPath, 'utf8'),
      privateKeyPath,
      knownHostsPath,
      async stop() {
        const exits = hosts.map(({ sshd }) =>
          sshd?.exitCode === null ? new Promise((r) => sshd.once('exit', r)) : Promise.resolve(),
        );
        for (const h of hosts) if (h.sshd?.exitCode === null) h.sshd.kill('SIGTERM');
        await Promise.all(engines.map((e) => e.stop()));
        await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 3000))]);
        teardownSync();
        process.removeListener('exit', teardownSync);
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all(engines.map((e) => e.stop()));
    teardownSync();
    process.removeListener('exit', teardownSync);
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}
