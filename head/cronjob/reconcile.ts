// The CronJob controller (README "CronJob"), as k8s' cronjob_controllerv2. Pure: `reconcileCronJob(cj,
// world)` -> actions, run by the kubecontroller's leader (its writes carry the leader's fence). The run
// state is the CronJob's status in etcd (lastScheduleTime) and its Jobs, so a new leader after a failover,
// or the leader after an etcd outage, sees the times it missed and starts the latest one (k8s' rule).
//
//   - the Jobs it owns (ownerReference by uid): unfinished ones are `status.active`; the newest finished
//     beyond `successfulJobsHistoryLimit` (3) / `failedJobsHistoryLimit` (1) are deleted (their pods go with
//     them: the sweep collects pods of a gone owner);
//   - the schedule's times in (lastScheduleTime or creation, now] not run yet: the latest is run (one Job,
//     named `<cronjob>-<minutes since the epoch>`, so a time is never run twice, whoever leads); more than
//     100 missed: a TooManyMissedTimes warning; with `startingDeadlineSeconds`, only times within it count,
//     older ones are missed (MissSchedule);
//   - `suspend`: nothing new starts (times passed while suspended are not caught up after, within the
//     deadline they are);
//   - concurrencyPolicy Allow: runs may overlap; Forbid: none starts while one is active (it starts when
//     that one ends, if still within the deadline, as k8s); Replace: the active ones are deleted first;
//   - woken at the next time of the schedule.

import { scheduleOf, unmetTimes } from '../../agent/objects/cron-schedule.ts';
import { CRONJOB_DEFAULTS } from '../../agent/objects/defaults.ts';
import { newMeta, type Stored } from '../../agent/objects/store.ts';
import type { CronJob, CronJobStatus, Job } from '../../agent/objects/types.ts';
import type { Action } from '../controllers/actions.ts';
import type { ReconcileEnv } from '../controllers/deployment.ts';
import { controllerOf, type World } from '../controllers/world.ts';

/** k8s' annotation on a Job with the time it was scheduled for. */
export const SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
/** Missed times counted at most before the TooManyMissedTimes warning. */
export const MISSED_TIMES_MAX = 100;

const finishedAs = (j: Job): 'Complete' | 'Failed' | undefined =>
  j.status?.conditions?.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')
    ?.type as 'Complete' | 'Failed' | undefined;

/** The Job a CronJob runs for `scheduled` (minutes since the epoch in its name, as k8s). */
export const jobName = (cj: CronJob, scheduled: Date) =>
  `${cj.metadata.name}-${Math.floor(scheduled.getTime() / 60_000)}`;

export function reconcileCronJob(stored: Stored<CronJob>, world: World, env: ReconcileEnv): Action[] {
  const cj = stored.object;
  const now = new Date(env.now);
  const actions: Action[] = [];
  const prev = cj.status;
  const owned = (world.jobs ?? []).filter(
    (j) =>
      j.object.metadata.namespace === cj.metadata.namespace &&
      controllerOf(j.object)?.uid === cj.metadata.uid,
  );
  const status: CronJobStatus = { ...(prev ?? {}) };
  const active = owned.filter((j) => !finishedAs(j.object));
  const succeeded = owned.filter((j) => finishedAs(j.object) === 'Complete');
  const failed = owned.filter((j) => finishedAs(j.object) === 'Failed');
  for (const j of succeeded) {
    const t = j.object.status?.completionTime;
    if (t && (!status.lastSuccessfulTime || t > status.lastSuccessfulTime)) status.lastSuccessfulTime = t;
  }

  // History: the newest finished ones kept.
  const finishedAt = (j: Stored<Job>) =>
    j.object.status?.completionTime ?? j.object.status?.startTime ?? j.object.metadata.creationTimestamp;
  const prune = (jobs: Array<Stored<Job>>, keep: number, which: string) => {
    const newestFirst = [...jobs].sort((a, b) => finishedAt(b).localeCompare(finishedAt(a)));
    for (const j of newestFirst.slice(keep))
      actions.push({ type: 'deleteObject', target: j, why: `beyond the ${which} jobs history limit` });
  };
  prune(
    succeeded,
    cj.spec.successfulJobsHistoryLimit ?? CRONJOB_DEFAULTS.successfulJobsHistoryLimit,
    'successful',
  );
  prune(failed, cj.spec.failedJobsHistoryLimit ?? CRONJOB_DEFAULTS.failedJobsHistoryLimit, 'failed');

  let running = active;
  const schedule = scheduleOf(cj.spec.schedule, cj.spec.timeZone);
  const wakeNext = () => {
    const next = schedule.next(now);
    if (next) actions.push({ type: 'wake', at: next.getTime() });
  };
  const done = () => {
    status.active = running
      .map((j) => ({
        kind: 'Job' as const,
        namespace: j.object.metadata.namespace!,
        name: j.object.metadata.name,
        uid: j.object.metadata.uid,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
    if (status.active.length === 0) delete status.active;
    if (JSON.stringify(status) !== JSON.stringify(prev ?? {})) actions.push({ type: 'status', status });
    return actions;
  };
  if (cj.spec.suspend) return done();

  const deadlineMs =
    cj.spec.startingDeadlineSeconds === undefined ? undefined : cj.spec.startingDeadlineSeconds * 1000;
  let since = new Date(status.lastScheduleTime ?? cj.metadata.creationTimestamp);
  if (deadlineMs !== undefined && since.getTime() < now.getTime() - deadlineMs)
    since = new Date(now.getTime() - deadlineMs);
  const unmet = unmetTimes(schedule, since, now, MISSED_TIMES_MAX + 1);
  wakeNext();
  if (!unmet.latest) return done();
  if (unmet.count > MISSED_TIMES_MAX)
    actions.push({
      type: 'event',
      on: 'owner',
      warning: true,
      reason: 'TooManyMissedTimes',
      message: `too many missed start times: more than ${MISSED_TIMES_MAX}. Set or decrease .spec.startingDeadlineSeconds or check clock skew`,
    });
  const scheduled = unmet.latest;
  const name = jobName(cj, scheduled);
  if (owned.some((j) => j.object.metadata.name === name)) {
    // Run already (a leader that stopped before its status write).
    status.lastScheduleTime = scheduled.toISOString();
    return done();
  }
  const policy = cj.spec.concurrencyPolicy ?? CRONJOB_DEFAULTS.concurrencyPolicy;
  if (policy === 'Forbid' && active.length > 0) return done(); // it starts when the active one ends
  if (policy === 'Replace')
    for (const j of active) {
      actions.push({
        type: 'deleteObject',
        target: j,
        why: 'replaced by the next run (concurrencyPolicy Replace)',
      });
      running = running.filter((r) => r !== j);
    }
  const job = jobFor(cj, name, scheduled);
  actions.push({ type: 'putObject', object: job, why: `scheduled for ${scheduled.toISOString()}` });
  actions.push({ type: 'event', on: 'owner', reason: 'SuccessfulCreate', message: `Created job ${name}` });
  status.lastScheduleTime = scheduled.toISOString();
  running = [...running, { object: job, modRevision: '0', createRevision: '0' }];
  return done();
}

/** The Job of a run: the template's metadata and spec, owned by the CronJob. */
export function jobFor(
  cj: CronJob,
  name: string,
  scheduled?: Date,
  annotations: Record<string, string> = {},
): Job {
  const t = cj.spec.jobTemplate;
  return newMeta<Job>({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: cj.metadata.namespace ?? 'default',
      uid: '',
      resourceVersion: '0',
      generation: 1,
      creationTimestamp: '',
      ...(t.metadata?.labels ? { labels: { ...t.metadata.labels } } : {}),
      annotations: {
        ...t.metadata?.annotations,
        ...(scheduled ? { [SCHEDULED_TIMESTAMP_ANNOTATION]: scheduled.toISOString() } : {}),
        ...annotations,
      },
      ownerReferences: [
        {
          apiVersion: 'batch/v1',
          kind: 'CronJob',
          name: cj.metadata.name,
          uid: cj.metadata.uid,
          controller: true,
        },
      ],
    },
    spec: structuredClone(t.spec),
  });
}
