// The deploy plan of one node, from what it should run (desired) and what it reports (observed), like a
// reconcile: pure, so every case is a table row in a test. Steps are done in the order listed.
import type { HostFacts } from '../../../agent/op/facts.ts';
import type { ServiceSpec } from '../../../agent/op/op-schema.ts';
import { DeployStepError } from './ssh/remote-op.ts';

export interface DesiredNode {
  name: string;
  /** SHA-256 of the binary to run there. */
  binarySha256: string;
  /** SHA-256 of the node's config file as it will be uploaded. */
  configSha256: string;
  configPath: string;
  /** The agent's service (nodes[].ssh.service); absent: a process service. */
  service?: ServiceSpec;
  /** A change of the stored cluster config that an agent takes only when it starts (the `network`
   * section), said as the plan's reason: a running agent is restarted. */
  startupChange?: string;
}

/** null: the binary is not installed (nothing else can be asked of the host yet). */
export type ObservedNode = HostFacts | null;

export type Step = 'upload-binary' | 'upload-config' | 'start-etcd' | 'start' | 'restart' | 'drain' | 'stop';
export type Change = 'install' | 'upgrade' | 'config change' | 'start' | 'remove' | 'nothing to do';

export interface NodePlan {
  node: string;
  change: Change;
  steps: Step[];
  /** One line per difference, for the printed plan. */
  reasons: string[];
}

export function planNode(desired: DesiredNode, observed: ObservedNode): NodePlan {
  const node = desired.name;
  if (observed === null)
    return {
      node,
      change: 'install',
      steps: ['upload-binary', 'upload-config', 'start'],
      reasons: ['nokube is not installed'],
    };
  const steps: Step[] = [];
  const reasons: string[] = [];
  const binaryChanged = observed.binary?.sha256 !== desired.binarySha256;
  const configChanged = observed.files[desired.configPath] !== desired.configSha256;
  if (binaryChanged) {
    steps.push('upload-binary');
    reasons.push(`binary ${short(observed.binary?.sha256)} -> ${short(desired.binarySha256)}`);
  }
  if (configChanged) {
    steps.push('upload-config');
    reasons.push(`config ${short(observed.files[desired.configPath])} -> ${short(desired.configSha256)}`);
  }
  const running = observed.service.state === 'running';
  const mode = desired.service?.mode ?? 'process';
  const runningMode = observed.service.mode ?? 'process';
  if (mode === 'docker' && !observed.docker.engine)
    throw new DeployStepError(node, 'plan', noDocker(desired.service!));
  const modeChanged = running && runningMode !== mode;
  if (modeChanged) {
    // Whatever else changed: the restart stops the old service (the host's record of it), starts this one.
    reasons.push(`service ${runningMode} -> ${mode}`);
    if (!binaryChanged && !configChanged) steps.push('restart');
  }
  const startupChanged = running && desired.startupChange !== undefined;
  if (startupChanged) {
    reasons.push(desired.startupChange!);
    if (!binaryChanged && !configChanged && !modeChanged) steps.push('restart');
  }
  if (binaryChanged || configChanged) steps.push(running ? 'restart' : 'start');
  else if (!running) {
    steps.push('start');
    reasons.push('the agent is not running');
  }
  const change: Change = binaryChanged
    ? 'upgrade'
    : configChanged || modeChanged || startupChanged
      ? 'config change'
      : steps.length > 0
        ? 'start'
        : 'nothing to do';
  return { node, change, steps, reasons };
}

/** An etcd member (etcd.serve) that is not running gets started first. One that runs with other flags
 * (members changed) is refused: a running etcd cluster's membership is changed with etcdctl member
 * add/remove, which new-or-update does not do yet. */
export function withEtcd(
  plan: NodePlan,
  etcd: { running: boolean; command: string[] | null; want: string[] },
): NodePlan {
  if (etcd.running) {
    if (etcd.command && etcd.command.join('\0') !== etcd.want.join('\0')) throw new Error(otherFlags(etcd));
    return plan;
  }
  return {
    ...plan,
    change: plan.change === 'nothing to do' ? 'start' : plan.change,
    // after the uploads (a bare host needs its binary to run the op), before the agent starts
    steps: [
      ...plan.steps.filter((st) => st.startsWith('upload-')),
      'start-etcd',
      ...plan.steps.filter((st) => !st.startsWith('upload-')),
    ],
    reasons: [...plan.reasons, 'etcd is not running'],
  };
}

/** Why a running member's flags are not the ones asked for, and what the operator does. */
function otherFlags(etcd: { command: string[] | null; want: string[] }): string {
  const tls = (cmd: string[] | null) => cmd?.includes('--client-cert-auth') === true;
  if (tls(etcd.want) && !tls(etcd.command))
    return 'etcd runs there without TLS, and etcd.serve with tls serves it with the cluster\'s certificates; new-or-update does not convert a running etcd (its peer URLs are in its data): move the data with a snapshot (etcdctl snapshot save; stop the members; etcdctl snapshot restore into each <workspace>/etcd with https peer URLs), then run new-or-update again (README: Deploy over SSH, "TLS for an etcd that runs")';
  if (!tls(etcd.want) && tls(etcd.command))
    return 'etcd runs there with TLS, and the config has no tls: new-or-update does not take TLS off a running etcd (put tls back in the config)';
  return 'etcd runs there with other flags than etcd.serve asks for (members or ports changed); changing a running etcd cluster is not done by new-or-update: use etcdctl member add/remove, then stop that member';
}

/** A node in the stored config but not in the new one: drained, then its agent stopped. */
export function planRemoval(node: string, observed: ObservedNode): NodePlan {
  const running = observed?.service.state === 'running';
  return {
    node,
    change: 'remove',
    steps: running ? ['drain', 'stop'] : ['drain'],
    reasons: [`not in the config any more${running ? '' : ' (its agent is not running)'}`],
  };
}

/** Why a docker-mode node cannot run its agent: for the plan, before any host is changed. */
export function noDocker(service: ServiceSpec): string {
  const socket = service.mode === 'docker' ? service.socket : '/var/run/docker.sock';
  return `nodes[].ssh.service is docker, but no Docker engine answers at ${socket} (install and start Docker there, set nodes[].dockerSocket, or choose another nodes[].ssh.service)`;
}

function short(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 12) : '(none)';
}
