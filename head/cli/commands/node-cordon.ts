// nokube cordon|uncordon|drain NODE, as kubectl's. cordon: no new pods on the node (pods there stay);
// uncordon: undo it. drain: cordon, then evict every pod on the node through the eviction API (a graceful
// delete, held back while a PodDisruptionBudget would be violated: retried every 5 s, as kubectl does;
// its controller places a replacement elsewhere) and wait until they are gone. As kubectl: DaemonSet pods are a refusal
// unless --ignore-daemonsets (then left: their DaemonSet would put them back), bare pods (no controller:
// nothing would replace them) a refusal unless --force, pods with emptyDir volumes (their data is lost) a
// refusal unless --delete-emptydir-data; a refusal evicts nothing (the node stays cordoned).
import type { Command } from 'commander';
import type { Pod } from '../../../agent/objects/types.ts';
import type { CordonResult } from '../../api/node-cordon.ts';
import { HeadError, type HeadFlags, headDelete, headGet, headPost } from '../head-client.ts';
import { headOptions } from '../manifest-files.ts';
import { objectPath, refFor } from '../objects-api.ts';
import { graceOf, WaitTimeoutError, waitGone } from './delete.ts';
import { parseDuration } from './pod-stream.ts';

const cordonPath = (node: string) => `/api/v1/nodes/${encodeURIComponent(node)}/cordon`;

async function cordon(flags: HeadFlags, node: string, on: boolean): Promise<void> {
  const r = on
    ? await headPost<CordonResult>(flags, cordonPath(node), {})
    : await headDelete<CordonResult>(flags, cordonPath(node));
  process.stdout.write(`node/${node} ${r.changed ? '' : 'already '}${on ? 'cordoned' : 'uncordoned'}\n`);
}

export interface DrainPlan {
  evict: Pod[];
  /** DaemonSet pods left (with --ignore-daemonsets). */
  ignored: Pod[];
  /** kubectl's refusal lines; non-empty: nothing is evicted. */
  refusals: string[];
}

const ident = (p: Pod) => `${p.metadata.namespace}/${p.metadata.name}`;

/** Which pods on `node` a drain evicts (pure; kubectl's filters: DaemonSet-managed, unreplicated). Pods
 * already Terminating are only waited for. */
export function planDrain(
  pods: readonly Pod[],
  node: string,
  o: { ignoreDaemonsets: boolean; force: boolean; deleteEmptydirData?: boolean },
): DrainPlan {
  const plan: DrainPlan = { evict: [], ignored: [], refusals: [] };
  const daemon: string[] = [];
  const bare: string[] = [];
  const local: string[] = [];
  for (const p of pods) {
    if (p.spec.nodeName !== node || p.metadata.deletionTimestamp) continue;
    const owner = p.metadata.ownerReferences?.find((r) => r.controller);
    if (owner?.kind === 'DaemonSet') {
      if (o.ignoreDaemonsets) plan.ignored.push(p);
      else daemon.push(ident(p));
      continue;
    }
    // An emptyDir's data goes with the pod: said first, as kubectl (a finished pod has none to lose).
    const finished = p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
    if (!o.deleteEmptydirData && !finished && (p.spec.volumes ?? []).some((v) => v.emptyDir))
      local.push(ident(p));
    if (!owner && !o.force) bare.push(ident(p));
    else plan.evict.push(p);
  }
  if (bare.length > 0)
    plan.refusals.push(
      `cannot delete Pods that declare no controller (use --force to override): ${bare.join(', ')}`,
    );
  if (daemon.length > 0)
    plan.refusals.push(
      `cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): ${daemon.join(', ')}`,
    );
  if (local.length > 0)
    plan.refusals.push(
      `cannot delete Pods with local storage (use --delete-emptydir-data to override): ${local.join(', ')}`,
    );
  return plan;
}

/** kubectl drain's wait before evicting again a pod a disruption budget holds. */
const EVICTION_RETRY_MS = 5000;

export class DrainRefusedError extends Error {
  override name = 'DrainRefusedError';
}

interface DrainFlags extends HeadFlags {
  ignoreDaemonsets: boolean;
  force: boolean;
  deleteEmptydirData: boolean;
  gracePeriod: string;
  timeout: string;
}

export function registerNodeCommands(program: Command): void {
  for (const [name, on, what] of [
    ['cordon', true, 'mark a node unschedulable: no new pods there (pods on it stay)'],
    ['uncordon', false, 'mark a node schedulable again'],
  ] as const)
    headOptions(program.command(`${name} <node>`).description(what)).action(
      async (node: string, opts: HeadFlags) => cordon(opts, node, on),
    );

  headOptions(
    program
      .command('drain <node>')
      .description(
        'cordon a node, then evict its pods (replaced elsewhere by their controllers) and wait until they are gone',
      )
      .option('--ignore-daemonsets', "leave DaemonSets' pods (else they are a refusal)", false)
      .option('--force', 'evict pods that no controller replaces too (else they are a refusal)', false)
      .option(
        '--delete-emptydir-data',
        'evict pods with emptyDir volumes too, whose data is lost (else they are a refusal)',
        false,
      )
      .option('--grace-period <seconds>', "seconds each pod gets to stop (negative: the pod's own)", '-1')
      .option(
        '--timeout <duration>',
        'give up waiting after this long (30s, 5m; 0: until they are gone)',
        '0s',
      ),
  ).action(async (node: string, opts: DrainFlags) => {
    const grace = graceOf({ gracePeriod: opts.gracePeriod, force: false, now: false });
    const timeoutMs =
      opts.timeout === '0' || opts.timeout === '0s' ? 0 : parseDuration(opts.timeout, '--timeout') * 1000;
    await cordon(opts, node, true);
    const { body } = await headGet<{ items: Pod[] }>(opts, '/api/v1/objects/pods');
    const plan = planDrain(body.items, node, opts);
    if (plan.refusals.length > 0) throw new DrainRefusedError(plan.refusals.join('\n'));
    for (const p of plan.ignored)
      process.stderr.write(`Warning: ignoring DaemonSet-managed Pods: ${ident(p)}\n`);
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY;
    // As kubectl: every pod evicted at once, each retried every 5 s while a disruption budget holds it.
    const evict = async (p: Pod): Promise<void> => {
      const ref = refFor('Pod', p.metadata.name, p.metadata.namespace);
      process.stdout.write(`evicting pod ${ident(p)}\n`);
      for (;;) {
        try {
          await headPost(opts, `${objectPath(ref)}/eviction`, {
            apiVersion: 'policy/v1',
            kind: 'Eviction',
            metadata: { name: p.metadata.name, namespace: p.metadata.namespace },
            ...(grace === undefined ? {} : { deleteOptions: { gracePeriodSeconds: grace } }),
          });
          break;
        } catch (err) {
          if (err instanceof HeadError && err.status === 404) break;
          if (!(err instanceof HeadError && err.status === 429)) throw err;
          if (Date.now() + EVICTION_RETRY_MS >= deadline)
            throw new WaitTimeoutError(
              `timed out evicting pods/"${p.metadata.name}" -n "${p.metadata.namespace}": ${err.message}`,
            );
          process.stderr.write(
            `error when evicting pods/"${p.metadata.name}" -n "${p.metadata.namespace}" (will retry after 5s): ${err.message}\n`,
          );
          await new Promise((r) => setTimeout(r, EVICTION_RETRY_MS));
        }
      }
      await waitGone(opts, ref, p.metadata.uid, deadline);
      process.stdout.write(`pod/${p.metadata.name} evicted\n`);
    };
    // Pods that were Terminating already are waited for too.
    const terminating = body.items.filter(
      (p) => p.spec.nodeName === node && p.metadata.deletionTimestamp && p.metadata.uid,
    );
    await Promise.all([
      ...plan.evict.map(evict),
      ...terminating.map(async (p) => {
        await waitGone(opts, refFor('Pod', p.metadata.name, p.metadata.namespace), p.metadata.uid, deadline);
        process.stdout.write(`pod/${p.metadata.name} evicted\n`);
      }),
    ]);
    process.stdout.write(`node/${node} drained\n`);
  });
}
