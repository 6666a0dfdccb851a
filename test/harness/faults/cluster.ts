// A cluster for the fault suite: each agent on its own `ip netns` host (test/harness/hosts.ts, no sshd),
// etcd on the hosts' gateway, agents running the built binary through `ip netns exec <ns>`. All hosts
// share the root Docker engine (containers use the host network; the agents label theirs with their node,
// so per-node containers are told apart by label). Cutting a host's veth cuts it off from etcd, the other
// hosts and this process alike.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { alive } from '../../../agent/op/processes.ts';
import { LABEL } from '../../../agent/runtime/labels.ts';
import { keys } from '../../../agent/store/keys.ts';
import { createTestCluster, eventually, REPO, runCli, type TestCluster, type TestNode } from '../cluster.ts';
import { copiedBinary } from '../deployed.ts';
import { type Docker, ensureBusyboxImage, removeContainers, requireDocker } from '../docker.ts';
import { startTestHosts, type TestHost, type TestHosts } from '../hosts.ts';
import { type Recorder, startRecorder } from './recorder.ts';

const IP = '/usr/sbin/ip';
/** Cluster names of fault runs: `flt<pid>-<n>`; a dead pid's containers are leftovers of a crashed run. */
const PREFIX = 'flt';
const STALE = new RegExp(`^${PREFIX}(\\d+)-\\d+$`);

export interface FaultNodeSpec {
  name: string;
  roles: Array<'head' | 'worker'>;
}

export interface FaultCluster {
  c: TestCluster;
  hosts: TestHosts;
  docker: Docker;
  image: string;
  nodes: string[];
  heads: string[];
  host(node: string): TestHost;
  /** Head node -> its API base URL. */
  headUrls: Record<string, string>;
  record(): Recorder;
  /** Run the CLI against the cluster (stdin `input`); a non-zero exit throws with its stderr. */
  cli(args: string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startFaultCluster(specs: FaultNodeSpec[]): Promise<FaultCluster> {
  if (!existsSync(join(REPO, 'dist', 'nokube')))
    throw new Error('dist/nokube not found: run npm run build first');
  const docker = await requireDocker();
  await sweepStaleContainers(docker);
  const image = await ensureBusyboxImage();
  const hosts = await startTestHosts(specs.length, { sshd: false });
  const hostOf = new Map(specs.map((s, i) => [s.name, hosts.hosts[i]!]));
  let c: TestCluster | undefined;
  let binDir: string | undefined;
  const stop = async () => {
    // A frozen process would never act on the SIGTERM or SIGKILL of the clean-up; a cut host is restored.
    for (const a of c?.agents.values() ?? []) a.process.kill('SIGCONT');
    c?.etcd.process.kill('SIGCONT');
    await c?.stop();
    await hosts.stop();
    if (binDir) await rm(binDir, { recursive: true, force: true });
  };
  try {
    const bin = await copiedBinary();
    binDir = dirname(bin.path);
    const nodes: TestNode[] = specs.map((s) => ({
      name: s.name,
      address: hostOf.get(s.name)!.address,
      roles: s.roles,
    }));
    c = await createTestCluster({
      nodes,
      etcdHost: hosts.gateway,
      bin: bin.path,
      wrap: (node) => [IP, 'netns', 'exec', hostOf.get(node)!.netns],
      namePrefix: PREFIX,
    });
    const cluster = c;
    // An interrupted run leaves no agent or etcd behind (namespaces: hosts.ts; containers: the next run).
    const killAll = () => {
      for (const a of cluster.agents.values()) a.process.kill('SIGKILL');
      cluster.etcd.process.kill('SIGKILL');
    };
    process.once('exit', killAll);
    const heads = specs.filter((s) => s.roles.includes('head')).map((s) => s.name);
    const headUrls = Object.fromEntries(
      heads.map((n) => [n, `http://${hostOf.get(n)!.address}:${cluster.headPort}`]),
    );
    for (const s of specs) await cluster.startAgent(s.name);
    const fc: FaultCluster = {
      c: cluster,
      hosts,
      docker,
      image,
      nodes: specs.map((s) => s.name),
      heads,
      headUrls,
      host: (node) => hostOf.get(node)!,
      record: () =>
        startRecorder({
          cluster: cluster.name,
          etcdUrl: cluster.etcd.url,
          docker,
          nodes: fc.nodes,
          heads: headUrls,
        }),
      async cli(args, input) {
        const r = await runCli(args, cluster.env, input);
        if (r.code !== 0) throw new Error(`nokube ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
        return r.stdout;
      },
      async stop() {
        process.removeListener('exit', killAll);
        await stop();
      },
    };
    await eventually(
      async () => {
        const registered = await cluster.withEtcd(
          async (etcd) => (await etcd.getAll().prefix(keys.nodesPrefix(cluster.name)).keys()).length,
        );
        if (registered !== specs.length) return false;
        const answers = await Promise.all(
          Object.values(headUrls).map(async (u) => {
            const res = await fetch(`${u}/api/v1/kubecontroller`, { signal: AbortSignal.timeout(2000) });
            return ((await res.json()) as { leader: string | null }).leader;
          }),
        );
        return answers.every((a) => a !== null && a === answers[0]);
      },
      60_000,
      `${specs.length} nodes registered and the heads agreeing on a leader`,
    );
    return fc;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Containers of fault clusters whose process is gone (a crashed run). Others' clusters are never touched. */
async function sweepStaleContainers(docker: Docker): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [LABEL.cluster] } });
  const stale = new Set<string>();
  for (const ct of list) {
    const name = ct.Labels[LABEL.cluster] ?? '';
    const m = STALE.exec(name);
    if (m && !alive(Number(m[1]))) stale.add(name);
  }
  for (const name of stale) await removeContainers(docker, { [LABEL.cluster]: name });
}
