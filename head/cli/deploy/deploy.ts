// new-or-update over SSH. Every node with an ssh section, and every node the stored config had that the
// new one lacks, is connected (in parallel) and observed; a plan is printed. Unless dry-run:
//   1. uploads are staged next to their targets on all changing hosts at once (harmless to what runs);
//   2. the validated config is stored in etcd;
//   3. hosts with no agent running (installs, stopped agents) are activated together: nothing runs there;
//   4. hosts whose running agent must restart (new binary or config) go one at a time;
//   5. removed nodes are drained, one at a time, then their agent stopped and their record dropped.
// Each started agent is waited for until it is registered in etcd and its mesh view holds every
// registered node. The first error stops the run naming node and step; hosts done keep running; a rerun
// continues from what it then observes.
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { agentServerUrl } from '../../../agent/api/agent-server.ts';
import { type ClusterConfig, podNetworkOf } from '../../../agent/config/schema.ts';
import type { ServiceState } from '../../../agent/op/service.ts';
import { listNodes, recordServing } from '../../../agent/store/node-registry.ts';
import { PKI_FILES } from '../../../agent/tls/layout.ts';
import { headTls } from '../head-tls.ts';
import { drainNode, forgetNode } from './drain.ts';
import { etcdMemberService } from './etcd-member.ts';
import { activateNode, type LocalBinary, observeNode, stageNode } from './node-deploy.ts';
import { type NodeTarget, nodeTarget } from './node-target.ts';
import { type NodePlan, type ObservedNode, planNode, planRemoval, withEtcd } from './plan.ts';
import { formatPlan } from './plan-print.ts';
import { DeployStepError, runRemoteOp } from './ssh/remote-op.ts';
import { openSession, type SshSession } from './ssh/session.ts';

export interface DeployOptions {
  config: ClusterConfig;
  binary: LocalBinary;
  dryRun: boolean;
  /** Asked before applying a plan with changes; false stops. */
  confirm: () => Promise<boolean>;
  /** The config stored in etcd before this run (its nodes missing from `config` are removed), or null. */
  previousConfig: () => Promise<ClusterConfig | null>;
  /** Stores the validated config in etcd (before any agent is started). */
  storeConfig: () => Promise<void>;
  etcd: () => Promise<Etcd3>;
  out: (text: string) => void;
  /** Who runs the deploy (recorded on drains). */
  by: string;
  sshTimeoutMs: number;
  /** How long a started agent has to register in etcd and see the mesh. */
  registerTimeoutMs: number;
  /** How long a removed node's pods have to move away. */
  drainTimeoutMs: number;
  /** The secrets keyring on this machine, uploaded to every host (absent: hosts get none). */
  secretsKeyFile?: string;
}

export interface DeployRow {
  node: string;
  change: NodePlan['change'];
  state: string;
  ms: number;
}

/** With config tls, every node to deploy has its files in tls.dir, chained to the CA and naming it with its
 * roles: checked here, before any host is touched (the agent checks them again at start). */
async function checkClusterTls(config: ClusterConfig): Promise<void> {
  const tls = config.tls;
  if (!tls) return;
  const [{ checkNodeTls }, { pkiNodeFiles }] = await Promise.all([
    import('../../../agent/tls/node-check.ts'),
    import('../../../agent/tls/layout.ts'),
  ]);
  const now = new Date();
  for (const node of config.nodes.filter((n) => n.ssh))
    await checkNodeTls(
      pkiNodeFiles(tls.dir, node.name),
      node,
      { ca: 'tls.dir', cert: 'tls.dir', key: 'tls.dir' },
      now,
      "nokube tls rotate <cluster.yaml> makes or renews the certificates of the config's nodes",
    );
}

/** Uploads in flight at once: each is ~130 MB through one SSH connection. */
const STAGE_CONCURRENCY = 3;

export async function deployOverSsh(o: DeployOptions): Promise<{ plans: NodePlan[]; rows: DeployRow[] }> {
  await checkClusterTls(o.config);
  const targets = o.config.nodes.filter((n) => n.ssh).map((n) => nodeTarget(o.config, n, o.secretsKeyFile));
  if (targets.length === 0) throw new Error('no node has an ssh section (nodes[].ssh): nothing to deploy');
  const sessions = new Map<string, SshSession>();
  const observe = (ts: NodeTarget[], config: ClusterConfig) =>
    settleAll(
      ts.map(async (t) => {
        const s = await openSession(t.node, o.sshTimeoutMs).catch((err: Error) => {
          throw new DeployStepError(t.node.name, 'connect', err.message.replace(/^\S+ \([^)]*\): /, ''));
        });
        sessions.set(t.node.name, s);
        const facts = await observeNode(s, t);
        return { facts, etcd: await observeEtcd(s, t, config, facts) };
      }),
    );
  try {
    const seen = await observe(targets, o.config);
    const planAll = (startupChange?: string) =>
      targets.map((t, i) => {
        const { facts, etcd } = seen[i]!;
        const plan = planNode(
          {
            name: t.node.name,
            binarySha256: o.binary.sha256,
            configSha256: t.configSha256,
            configPath: t.configPath,
            service: t.service,
            ...(startupChange ? { startupChange } : {}),
          },
          facts,
        );
        try {
          return etcd ? withEtcd(plan, etcd) : plan;
        } catch (err) {
          throw new DeployStepError(t.node.name, 'plan', (err as Error).message);
        }
      });
    // A node that cannot be planned is said before etcd is asked for anything.
    let targetPlans = planAll();
    // The stored config names the nodes to remove. When etcd is ours to start and not all up yet, a
    // stored config cannot be read (and on a first run there is none).
    const etcdDown = seen.some((x) => x.etcd && !x.etcd.running);
    const previous = await o.previousConfig().catch((err: Error) => {
      if (etcdDown) return null;
      throw err;
    });
    const startupChange = previous ? networkChange(previous, o.config) : undefined;
    if (startupChange) targetPlans = planAll(startupChange);
    const keep = new Set(o.config.nodes.map((n) => n.name));
    const removed = (previous?.nodes ?? [])
      .filter((n) => n.ssh && !keep.has(n.name))
      .map((n) => nodeTarget(previous!, n));
    const seenRemoved = await observe(removed, previous ?? o.config);
    const all = [...targets, ...removed];
    const plans = [...targetPlans, ...removed.map((t, i) => planRemoval(t.node.name, seenRemoved[i]!.facts))];
    o.out(`Plan for cluster "${o.config.cluster}":\n${formatPlan(plans)}`);
    if (o.dryRun) return { plans, rows: [] };
    if (plans.every((p) => p.steps.length === 0)) {
      o.out('No change on any host.\n');
      return { plans, rows: plans.map((p) => ({ node: p.node, change: p.change, state: 'running', ms: 0 })) };
    }
    if (!(await o.confirm())) throw new Error('not applied');

    const t0 = Date.now();
    const done = new Map<string, DeployRow>();
    const work = all.map((t, i) => ({ t, plan: plans[i]!, s: sessions.get(t.node.name)! }));
    const say = (t: NodeTarget, what: string) => o.out(`${t.node.name}: ${what}\n`);
    const finish = (w: (typeof work)[number], state: string, since: number) =>
      done.set(w.t.node.name, { node: w.t.node.name, change: w.plan.change, state, ms: Date.now() - since });

    // 1. stage uploads
    const uploading = work.filter((w) => w.plan.steps.some((s) => s.startsWith('upload-')));
    for (let i = 0; i < uploading.length; i += STAGE_CONCURRENCY)
      await settleAll(
        uploading.slice(i, i + STAGE_CONCURRENCY).map(async (w) => {
          say(w.t, 'uploading');
          await stageNode(w.s, w.t, w.plan, o.binary);
        }),
      );
    // 2. etcd members that do not run: started together (a new cluster needs its quorum), after their
    // host's uploads are installed (the binary runs the op; with tls, the member serves with the node's
    // certificate uploaded with the node file; files are replaced by rename, so an agent still running
    // there goes on with what it read and takes the new ones at its restart); then the config is stored
    const etcdStarts = work.filter((w) => w.plan.steps.includes('start-etcd'));
    await settleAll(
      etcdStarts.map(async (w) => {
        const uploads = w.plan.steps.filter((st) => st.startsWith('upload-'));
        if (uploads.length > 0)
          await activateNode(w.s, w.t, { ...w.plan, steps: uploads }, o.binary, (st) => say(w.t, st));
        say(w.t, 'start-etcd');
        await runRemoteOp(w.s, w.t.node.name, 'start-etcd', [w.t.binaryPath], {
          op: 'start',
          service: etcdMemberService(o.config, w.t.node)!,
        });
        // What is done here is not done (nor reported) again when the agent is activated.
        w.plan = {
          ...w.plan,
          steps: w.plan.steps.filter((st) => st !== 'start-etcd' && !st.startsWith('upload-')),
        };
      }),
    );
    if (etcdStarts.length > 0) await waitEtcd(o);
    await o.storeConfig();
    // 3. hosts where no agent runs: together
    const idle = work.filter((w) => w.plan.steps.includes('start'));
    await settleAll(
      idle.map(async (w) => {
        await activateNode(w.s, w.t, w.plan, o.binary, (st) => say(w.t, st));
        await waitReady(o, w.t, t0);
        finish(w, 'running', t0);
      }),
    );
    // 4. running agents that must restart: one at a time
    for (const w of work.filter((w) => w.plan.steps.includes('restart'))) {
      const since = Date.now();
      await activateNode(w.s, w.t, w.plan, o.binary, (st) => say(w.t, st));
      say(w.t, 'waiting until it is registered and in the mesh');
      await waitReady(o, w.t, since);
      finish(w, 'running', since);
    }
    // 5. removed nodes: drained, stopped, forgotten
    for (const w of work.filter((w) => w.plan.change === 'remove')) {
      const since = Date.now();
      const etcd = await o.etcd();
      say(w.t, 'drain');
      await drainNode(etcd, o.config.cluster, w.t.node.name, o.by, o.drainTimeoutMs).catch((err: Error) => {
        throw new DeployStepError(w.t.node.name, 'drain', err.message);
      });
      if (w.plan.steps.includes('stop')) {
        say(w.t, 'stop');
        await runRemoteOp(w.s, w.t.node.name, 'stop', [w.t.binaryPath], { op: 'stop', service: w.t.service });
        // Its pod network's leftovers in the host's kernel (the stored config has a pod network).
        const network = previous && podNetworkOf(previous);
        if (network) {
          say(w.t, 'network teardown');
          await runRemoteOp(w.s, w.t.node.name, 'network teardown', [w.t.binaryPath], {
            op: 'network-teardown',
            cluster: o.config.cluster,
            node: w.t.node.name,
            podCidr: network.podCidr,
          });
        }
      }
      await forgetNode(etcd, o.config.cluster, w.t.node.name);
      finish(w, 'removed', since);
    }
    const rows = work.map(
      (w) =>
        done.get(w.t.node.name) ?? { node: w.t.node.name, change: w.plan.change, state: 'running', ms: 0 },
    );
    return { plans, rows };
  } finally {
    for (const s of sessions.values()) s.close();
  }
}

/** An etcd member's state (null: the node is not one). Its binary must be on the host. */
async function observeEtcd(
  s: SshSession,
  t: NodeTarget,
  config: ClusterConfig,
  facts: ObservedNode,
): Promise<{ running: boolean; command: string[] | null; want: string[] } | null> {
  const spec = etcdMemberService(config, t.node);
  if (!spec) return null;
  if (!(await s.exists(spec.command[0]!)))
    throw new DeployStepError(
      t.node.name,
      'facts',
      `etcd.serve.binary ${spec.command[0]} is not on the host (Debian: apt-get install etcd-server)`,
    );
  if (facts === null) return { running: false, command: null, want: spec.command };
  const st = await runRemoteOp<ServiceState>(s, t.node.name, 'facts', [t.binaryPath], {
    op: 'state',
    service: spec,
  });
  return { running: st.state === 'running', command: st.command, want: spec.command };
}

/** Until the served etcd answers a read (members elect a leader within seconds). */
async function waitEtcd(o: DeployOptions): Promise<void> {
  const deadline = Date.now() + o.registerTimeoutMs;
  for (;;) {
    try {
      const etcd = await o.etcd();
      await etcd.get('/nokube/.probe').string();
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new DeployStepError(
          o.config.etcd.serve!.nodes.join(','),
          'wait until etcd answers',
          `${(err as Error).message} after ${o.registerTimeoutMs} ms (logs: <workspace>/nokube-etcd.log)`,
        );
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Where a service's output is, for error messages. */
function serviceLog(spec: NodeTarget['service']): string {
  if (spec.mode === 'process') return `its log: ${spec.logFile}`;
  if (spec.mode === 'docker') return `its log: docker logs ${spec.name} (on the host)`;
  return `its log: journalctl -u ${spec.name} (on the host)`;
}

/** Promise.all that lets every promise finish (connections get closed, no host is left mid-step), then
 * throws the first failure. */
async function settleAll<T>(ps: Array<Promise<T>>): Promise<T[]> {
  const settled = await Promise.allSettled(ps);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

const ALIVE_MEMBERS = /^nokube_mesh_members\{[^}]*state="alive"[^}]*\} (\d+)/m;

/** Alive members in an agent's own mesh view, from its /metrics text (0 when the series is missing). */
export function aliveMembers(metricsText: string): number {
  return Number(ALIVE_MEMBERS.exec(metricsText)?.[1] ?? 0);
}

/** Registered in etcd by an agent started after `since` (a head's record naming its API: it listens), and
 * its mesh view holds every registered node alive (read from its own /metrics on agent.port). */
async function waitReady(o: DeployOptions, t: NodeTarget, since: number): Promise<void> {
  const etcd = await o.etcd();
  const deadline = Date.now() + o.registerTimeoutMs;
  // With `tls` the agent serves it over HTTPS: verified against the cluster CA in tls.dir.
  const url = `${agentServerUrl(o.config, t.node.address)}/metrics`;
  const { fetch } = await headTls(o.config.tls ? join(o.config.tls.dir, PKI_FILES.caCert) : undefined);
  let why = 'not registered in etcd';
  for (;;) {
    const nodes = await listNodes(etcd, o.config.cluster);
    const rec = nodes.find((n) => n.name === t.node.name);
    if (rec && rec.incarnation >= since && recordServing(rec)) {
      const text = await fetch(url, { signal: AbortSignal.timeout(2000) })
        .then((r) => r.text())
        .catch((err: Error) => `unreachable: ${err.message}`);
      // Every node of the config, not only those registered now: agents started side by side register
      // one by one, and one that saw only the early ones would be called ready too soon.
      const want = Math.max(nodes.length, o.config.nodes.length);
      const alive = aliveMembers(text);
      if (alive >= want) return;
      why = text.startsWith('unreachable')
        ? `registered, but ${url} is ${text}`
        : `registered, but its mesh view has ${alive} of ${want} nodes alive`;
    }
    if (Date.now() > deadline)
      throw new DeployStepError(
        t.node.name,
        'wait until ready',
        `${why} after ${o.registerTimeoutMs} ms (${serviceLog(t.service)})`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The plan's reason when the `network` section changed: agents read it only when they start. */
function networkChange(previous: ClusterConfig, next: ClusterConfig): string | undefined {
  return JSON.stringify(previous.network) === JSON.stringify(next.network)
    ? undefined
    : 'the network section changed (an agent reads it when it starts)';
}
