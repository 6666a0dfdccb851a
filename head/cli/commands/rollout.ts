// nokube rollout status|history|undo|pause|resume|restart|promote deployment/<name>: kubectl's rollout
// commands for Deployments (status and restart for DaemonSets too: rollout/daemonset.ts), and promote for
// canaries (rollout/promote.ts). status reads the Deployment until its rollout is done (exit 0), has failed
// (ProgressDeadlineExceeded: exit 1) or --timeout passes (exit 1). history and undo read the
// Deployment's revisions (ReplicaSets); undo, pause, resume and restart change the Deployment by a
// read-modify-write through the head (rollout/deployment-write.ts: ACL `update` on deployments).
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';
import { canonical } from '../../../agent/objects/canonical.ts';
import type { DaemonSet, Deployment } from '../../../agent/objects/types.ts';
import {
  CHANGE_CAUSE_ANNOTATION,
  deploymentTemplateOf,
  revisionNumber,
} from '../../controllers/revision-meta.ts';
import { headOptions } from '../manifest-files.ts';
import { serialize, table } from '../output.ts';
import { daemonSetRolloutState, namesDaemonSet } from '../rollout/daemonset.ts';
import {
  type Change,
  deploymentPath,
  named,
  readDeployment,
  slashed,
  type TargetFlags,
  updateDeployment,
} from '../rollout/deployment-write.ts';
import { revisionsOf } from '../rollout/history.ts';
import { promotion } from '../rollout/promote.ts';
import { rolloutState } from '../rollout/status.ts';
import { WaitTimeoutError } from './delete.ts';
import { parseDuration } from './pod-stream.ts';

/** kubectl's annotation that `rollout restart` sets on the template (a new template hash: new pods). */
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
/** How often `rollout status` reads the Deployment. */
const STATUS_POLL_MS = 500;

/** A rollout that failed (ProgressDeadlineExceeded, failed canaries, rolled back): `rollout status` exits 1
 * with kubectl's line. */
export class RolloutFailedError extends Error {
  override name = 'RolloutFailedError';
}

export function registerRollout(program: Command): void {
  const rollout = program
    .command('rollout')
    .description(
      'manage the rollout of a Deployment: status, history, undo, pause, resume, restart, promote (status and restart: a DaemonSet too)',
    );
  const sub = (name: string, description: string) =>
    headOptions(
      rollout
        .command(`${name} <target> [name]`)
        .description(description)
        .option('-n, --namespace <ns>', 'namespace of the Deployment (default "default")'),
    );

  sub(
    'status',
    'wait until the rollout is done; exit 1 when it failed (deadline exceeded, canaries failed, rolled back)',
  )
    .option('--timeout <duration>', 'give up after this long (30s, 5m; 0: wait as long as it takes)', '0s')
    .action(async (first: string, second: string | undefined, opts: TargetFlags & { timeout: string }) => {
      const path = deploymentPath(first, second, opts, 'DaemonSet');
      const ds = namesDaemonSet(first, second);
      const timeoutMs =
        opts.timeout === '0' || opts.timeout === '0s' ? 0 : parseDuration(opts.timeout, '--timeout') * 1000;
      const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY;
      let last = '';
      for (;;) {
        const s = ds
          ? daemonSetRolloutState(await readDeployment<DaemonSet>(opts, path))
          : rolloutState(await readDeployment(opts, path));
        if (s.state === 'failed') throw new RolloutFailedError(s.message);
        if (s.message !== last) process.stdout.write(`${s.message}\n`);
        last = s.message;
        if (s.state === 'done') return;
        if (Date.now() >= deadline) throw new WaitTimeoutError('timed out waiting for the condition');
        await new Promise((r) => setTimeout(r, STATUS_POLL_MS));
      }
    });

  sub('history', "list the Deployment's revisions (with --revision: that revision's pod template)")
    .option('--revision <n>', 'show the pod template of this revision')
    .action(async (first: string, second: string | undefined, opts: TargetFlags & { revision?: string }) => {
      const d = await readDeployment(opts, deploymentPath(first, second, opts));
      const revisions = await revisionsOf(opts, d);
      if (opts.revision !== undefined) {
        const n = wholeNumber(opts.revision, '--revision');
        const rs = revisions.find((r) => revisionNumber(r) === n);
        if (!rs) throw new UsageError(`unable to find the specified revision ${n}`);
        const template = serialize(deploymentTemplateOf(rs), 'yaml')
          .trimEnd()
          .split('\n')
          .map((l) => `  ${l}`)
          .join('\n');
        process.stdout.write(`${slashed(d)} with revision #${n}\nPod Template:\n${template}\n`);
        return;
      }
      const rows = revisions.map((r) => [
        String(revisionNumber(r)),
        r.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION] ?? '<none>',
      ]);
      process.stdout.write(`${slashed(d)} \n${table(['REVISION', 'CHANGE-CAUSE'], rows)}\n`);
    });

  sub('undo', 'go back to the previous revision (or --to-revision N): its pod template, exactly')
    .option('--to-revision <n>', 'the revision to go back to (0: the previous one)', '0')
    .action(async (first: string, second: string | undefined, opts: TargetFlags & { toRevision: string }) => {
      const to = wholeNumber(opts.toRevision, '--to-revision');
      const path = deploymentPath(first, second, opts);
      const r = await updateDeployment(opts, path, 'rollout undo', async (d): Promise<Change> => {
        if (d.spec.paused)
          return {
            refuse:
              "you cannot rollback a paused deployment; resume it first with 'nokube rollout resume' and try again",
          };
        const revisions = await revisionsOf(opts, d);
        if (revisions.length === 0)
          return { refuse: `no rollout history found for deployment "${d.metadata.name}"` };
        // 0: the revision before the newest (kubectl's LastRevision).
        const rs = to === 0 ? revisions.at(-2) : revisions.find((x) => revisionNumber(x) === to);
        if (!rs)
          return {
            refuse:
              to === 0 ? 'no revision to roll back to' : `unable to find specified revision ${to} in history`,
          };
        const template = deploymentTemplateOf(rs);
        if (canonical(template) === canonical(d.spec.template))
          return {
            skip: `${slashed(d)} skipped rollback (current template already matches revision ${revisionNumber(rs)})`,
          };
        d.spec.template = template;
        const cause = rs.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION];
        const annotations = { ...d.metadata.annotations };
        if (cause === undefined) delete annotations[CHANGE_CAUSE_ANNOTATION];
        else annotations[CHANGE_CAUSE_ANNOTATION] = cause;
        d.metadata.annotations = annotations;
        return d;
      });
      process.stdout.write('skip' in r ? `${r.skip}\n` : `deployment.apps/${r.name} rolled back\n`);
    });

  sub('promote', 'let the rollout go on past its canaries (nokube.io/canary)').action(
    async (first: string, second: string | undefined, opts: TargetFlags) => {
      const r = await updateDeployment(opts, deploymentPath(first, second, opts), 'rollout promote', (d) =>
        promotion(opts, d),
      );
      process.stdout.write(`${'skip' in r ? r.skip : `deployment.apps/${r.name} promoted`}\n`);
    },
  );

  sub('pause', 'stop the rollout where it is: template changes wait until resume').action(
    async (first: string, second: string | undefined, opts: TargetFlags) => {
      const r = await updateDeployment(opts, deploymentPath(first, second, opts), 'rollout pause', (d) => {
        if (d.spec.paused) return { refuse: `${named(d)} is already paused` };
        d.spec.paused = true;
        return d;
      });
      process.stdout.write(`${'skip' in r ? r.skip : `deployment.apps/${r.name} paused`}\n`);
    },
  );

  sub('resume', 'go on with a paused rollout').action(
    async (first: string, second: string | undefined, opts: TargetFlags) => {
      const r = await updateDeployment(opts, deploymentPath(first, second, opts), 'rollout resume', (d) => {
        if (!d.spec.paused) return { refuse: `${named(d)} is not paused` };
        delete d.spec.paused;
        return d;
      });
      process.stdout.write(`${'skip' in r ? r.skip : `deployment.apps/${r.name} resumed`}\n`);
    },
  );

  sub('restart', 'replace every pod by a rolling update (a new template annotation, as kubectl)').action(
    async (first: string, second: string | undefined, opts: TargetFlags) => {
      const path = deploymentPath(first, second, opts, 'DaemonSet');
      const r = await updateDeployment<Deployment | DaemonSet>(opts, path, 'rollout restart', (d) => {
        if (d.kind === 'Deployment' && d.spec.paused)
          return { refuse: `${named(d)} can't restart paused deployment (run rollout resume first)` };
        d.spec.template.metadata = {
          ...d.spec.template.metadata,
          annotations: {
            ...d.spec.template.metadata?.annotations,
            [RESTARTED_AT_ANNOTATION]: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
          },
        };
        return d;
      });
      const kind = namesDaemonSet(first, second) ? 'daemonset' : 'deployment';
      process.stdout.write(`${'skip' in r ? r.skip : `${kind}.apps/${r.name} restarted`}\n`);
    },
  );
}

const wholeNumber = (text: string, flag: string): number => {
  if (!/^\d{1,9}$/.test(text)) throw new UsageError(`${flag} ${text}: expected a whole number`);
  return Number(text);
};
