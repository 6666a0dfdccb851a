// new-or-update over SSH: every node with an ssh section is connected (in parallel) and observed, a plan
// is printed; unless dry-run, the config is stored in etcd and the nodes are changed one at a time, each
// started or restarted node waited for until its agent is registered again, then a final table. The first
// error stops the run naming node and step; nodes done before keep running, a rerun continues.
import type { Etcd3 } from 'etcd3';
import type { ClusterConfig } from '../config/schema.ts';
import { listNodes } from '../store/node-registry.ts';
import { applyNode, type LocalBinary, observeNode } from './node-deploy.ts';
import { type NodeTarget, nodeTarget } from './node-target.ts';
import { type NodePlan, type ObservedNode, planNode } from './plan.ts';
import { formatPlan } from './plan-print.ts';
import { DeployStepError } from './ssh/remote-op.ts';
import { openSession, type SshSession } from './ssh/session.ts';

export interface DeployOptions {
  config: ClusterConfig;
  binary: LocalBinary;
  dryRun: boolean;
  /** Asked before applying a plan with changes; false stops. */
  confirm: () => Promise<boolean>;
  /** Stores the validated config in etcd (before any agent is started). */
  storeConfig: () => Promise<void>;
  etcd: () => Promise<Etcd3>;
  out: (text: string) => void;
  sshTimeoutMs: number;
  /** How long a started agent has to register in etcd. */
  registerTimeoutMs: number;
}

export interface DeployRow {
  node: string;
  change: NodePlan['change'];
  state: string;
  ms: number;
}

export async function deployOverSsh(o: DeployOptions): Promise<{ plans: NodePlan[]; rows: DeployRow[] }> {
  const targets = o.config.nodes.filter((n) => n.ssh).map((n) => nodeTarget(o.config, n));
  if (targets.length === 0) throw new Error('no node has an ssh section (nodes[].ssh): nothing to deploy');
  const sessions = new Map<string, SshSession>();
  try {
    // allSettled, not all: on the first failure the other connections still finish and are closed below.
    const settled = await Promise.allSettled(
      targets.map(async (t) => {
        const s = await openSession(t.node, o.sshTimeoutMs).catch((err: Error) => {
          throw new DeployStepError(t.node.name, 'connect', err.message.replace(/^\S+ \([^)]*\): /, ''));
        });
        sessions.set(t.node.name, s);
        return observeNode(s, t);
      }),
    );
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const observed = settled.map((r) => (r as PromiseFulfilledResult<ObservedNode>).value);
    const plans = targets.map((t, i) =>
      planNode(
        {
          name: t.node.name,
          binarySha256: o.binary.sha256,
          configSha256: t.configSha256,
          configPath: t.configPath,
        },
        observed[i]!,
      ),
    );
    o.out(`Plan for cluster "${o.config.cluster}":\n${formatPlan(plans)}`);
    if (o.dryRun) return { plans, rows: [] };
    const changing = plans.filter((p) => p.steps.length > 0);
    if (changing.length === 0) {
      o.out('No change on any host.\n');
      return { plans, rows: plans.map((p) => ({ node: p.node, change: p.change, state: 'running', ms: 0 })) };
    }
    if (!(await o.confirm())) throw new Error('not applied');
    await o.storeConfig();
    const rows: DeployRow[] = [];
    for (const [i, t] of targets.entries()) {
      const plan = plans[i]!;
      const t0 = Date.now();
      if (plan.steps.length > 0) {
        await applyNode(sessions.get(t.node.name)!, t, plan, o.binary, (st) =>
          o.out(`${t.node.name}: ${st}\n`),
        );
        o.out(`${t.node.name}: waiting until it is registered\n`);
        await waitRegistered(o, t, t0);
      }
      rows.push({ node: t.node.name, change: plan.change, state: 'running', ms: Date.now() - t0 });
    }
    return { plans, rows };
  } finally {
    for (const s of sessions.values()) s.close();
  }
}

async function waitRegistered(o: DeployOptions, t: NodeTarget, since: number): Promise<void> {
  const etcd = await o.etcd();
  const deadline = Date.now() + o.registerTimeoutMs;
  for (;;) {
    const rec = (await listNodes(etcd, o.config.cluster)).find((n) => n.name === t.node.name);
    if (rec && rec.incarnation >= since) return;
    if (Date.now() > deadline)
      throw new DeployStepError(
        t.node.name,
        'wait until registered',
        `the agent did not register in etcd within ${o.registerTimeoutMs} ms (its log: ${t.service.logFile})`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}
