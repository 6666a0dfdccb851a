// CronJobs (issue 19 item 3): the schedule (croner, k8s' syntax and time zones), validation, and the
// controller's decisions (head/cronjob/reconcile.ts), pure, over a model of the Jobs it owns.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { scheduleOf, scheduleProblem, timeZoneProblem, unmetTimes } from '../agent/objects/cron-schedule.ts';
import { withDefaults } from '../agent/objects/defaults.ts';
import type { Stored } from '../agent/objects/store.ts';
import type { CronJob, CronJobSpec, Job } from '../agent/objects/types.ts';
import { validateManifestText } from '../agent/objects/validate.ts';
import type { Action } from '../head/controllers/actions.ts';
import { reconcileJob } from '../head/controllers/job.ts';
import type { World } from '../head/controllers/world.ts';
import { jobName, reconcileCronJob } from '../head/cronjob/reconcile.ts';

const at = (iso: string) => new Date(iso);

describe('cron schedules', () => {
  test("k8s' syntax: five fields or a macro; no seconds field, no TZ= prefix; IANA zones", () => {
    assert.equal(scheduleProblem('*/5 * * * *'), undefined);
    assert.equal(scheduleProblem('@hourly'), undefined);
    assert.equal(scheduleProblem('@midnight'), undefined);
    assert.match(scheduleProblem('0 */5 * * * *')!, /five fields/);
    assert.match(scheduleProblem('TZ=UTC 0 * * * *')!, /spec.timeZone/);
    assert.match(scheduleProblem('@sometimes')!, /unknown macro/);
    assert.ok(scheduleProblem('61 * * * *'));
    assert.equal(timeZoneProblem('Europe/Berlin'), undefined);
    assert.match(timeZoneProblem('Mars/Olympus')!, /unknown time zone/);
  });

  test('times in a zone; unmet times: the latest, counted up to a cap, without walking a month minute by minute', () => {
    const nine = scheduleOf('0 9 * * 1-5', 'America/New_York');
    assert.equal(nine.next(at('2026-12-04T00:00:00Z'))!.toISOString(), '2026-12-04T14:00:00.000Z');
    const minutely = scheduleOf('* * * * *', 'UTC');
    assert.deepEqual(unmetTimes(minutely, at('2026-12-04T00:00:30Z'), at('2026-12-04T00:00:59Z')), {
      count: 0,
    });
    const three = unmetTimes(minutely, at('2026-12-04T00:00:00Z'), at('2026-12-04T00:03:10Z'));
    assert.deepEqual([three.count, three.latest?.toISOString()], [3, '2026-12-04T00:03:00.000Z']);
    const started = performance.now();
    const month = unmetTimes(minutely, at('2026-11-04T00:00:00Z'), at('2026-12-04T00:00:10Z'), 101);
    assert.deepEqual([month.count, month.latest?.toISOString()], [101, '2026-12-04T00:00:00.000Z']);
    assert.ok(performance.now() - started < 500, 'a month of minutes is not walked');
  });

  test('validation: a bad schedule, zone or job template is refused naming the field', () => {
    const problems = (spec: string) => {
      try {
        validateManifestText(
          `apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n${spec}`,
          'c.yaml',
        );
        return [];
      } catch (err) {
        return (err as { problems: string[] }).problems;
      }
    };
    const template = `  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: m, image: busybox}]\n`;
    assert.deepEqual(problems(`  schedule: "*/1 * * * *"\n${template}`), []);
    assert.match(problems(`  schedule: "often"\n${template}`).join('\n'), /spec.schedule: .*five fields/);
    assert.match(
      problems(`  schedule: "@daily"\n  timeZone: Nowhere/Land\n${template}`).join('\n'),
      /spec.timeZone: unknown time zone/,
    );
    assert.match(
      problems(
        `  schedule: "@daily"\n${template.replace('restartPolicy: Never', 'restartPolicy: Always')}`,
      ).join('\n'),
      /spec.jobTemplate.spec.template.spec.restartPolicy: must be OnFailure or Never for a Job/,
    );
    assert.match(
      problems(`  schedule: "@daily"\n  concurrencyPolicy: Sometimes\n${template}`).join('\n'),
      /concurrencyPolicy/,
    );
  });
});

class Model {
  now: number;
  cj: Stored<CronJob>;
  jobs: Array<Stored<Job>> = [];
  events: string[] = [];
  wakeAt: number | undefined;

  constructor(spec: Partial<CronJobSpec>, created: string, now: string) {
    this.now = Date.parse(now);
    this.cj = {
      object: withDefaults<CronJob>({
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: {
          name: 'tick',
          namespace: 'default',
          uid: 'cj1',
          resourceVersion: '1',
          generation: 1,
          creationTimestamp: created,
        },
        spec: {
          schedule: '*/5 * * * *',
          timeZone: 'UTC',
          jobTemplate: {
            spec: {
              template: { spec: { restartPolicy: 'Never', containers: [{ name: 'm', image: 'busybox' }] } },
            },
          },
          ...spec,
        },
      }),
      modRevision: '1',
      createRevision: '1',
    };
  }

  step(): Action[] {
    const world = { nodes: [], pods: [], drained: new Set<string>(), jobs: this.jobs } as World;
    const actions = reconcileCronJob(structuredClone(this.cj), world, {
      now: new Date(this.now).toISOString(),
    });
    this.wakeAt = undefined;
    for (const a of actions) {
      if (a.type === 'status') this.cj.object.status = a.status as CronJob['status'];
      else if (a.type === 'event') this.events.push(a.reason);
      else if (a.type === 'wake') this.wakeAt = a.at;
      else if (a.type === 'putObject') {
        const job = a.object as Job;
        assert.ok(
          !this.jobs.some((j) => j.object.metadata.name === job.metadata.name),
          'a name is created once',
        );
        this.jobs.push({ object: job, modRevision: '2', createRevision: '2' });
      } else if (a.type === 'deleteObject') this.jobs = this.jobs.filter((j) => j.object !== a.target.object);
      else assert.fail(`unexpected ${a.type}`);
    }
    return actions;
  }

  finish(name: string, how: 'Complete' | 'Failed', when = new Date(this.now).toISOString()) {
    const j = this.jobs.find((x) => x.object.metadata.name === name)!;
    j.object.status = {
      completionTime: when,
      conditions: [{ type: how, status: 'True', lastTransitionTime: when }],
    };
  }

  names = () => this.jobs.map((j) => j.object.metadata.name);
}

const minutes = (iso: string) => Math.floor(Date.parse(iso) / 60_000);

describe('CronJob controller', () => {
  test('runs at each time, once: a Job named by the scheduled minute, owned, annotated; woken at the next time', () => {
    const m = new Model({}, '2026-12-04T00:00:00Z', '2026-12-04T00:04:00Z');
    m.step();
    assert.deepEqual(m.names(), []);
    assert.equal(m.wakeAt, Date.parse('2026-12-04T00:05:00Z'));
    m.now = Date.parse('2026-12-04T00:05:01Z');
    m.step();
    assert.deepEqual(m.names(), [`tick-${minutes('2026-12-04T00:05:00Z')}`]);
    const job = m.jobs[0]!.object;
    assert.deepEqual(
      job.metadata.ownerReferences?.map((o) => [o.kind, o.uid, o.controller]),
      [['CronJob', 'cj1', true]],
    );
    assert.equal(
      job.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'],
      '2026-12-04T00:05:00.000Z',
    );
    assert.equal(m.cj.object.status?.lastScheduleTime, '2026-12-04T00:05:00.000Z');
    assert.deepEqual(
      m.cj.object.status?.active?.map((a) => a.name),
      [job.metadata.name],
    );
    m.step();
    assert.equal(m.jobs.length, 1, 'the same time is not run twice');
    m.finish(job.metadata.name, 'Complete');
    m.step();
    assert.equal(m.cj.object.status?.active, undefined);
    assert.equal(m.cj.object.status?.lastSuccessfulTime, new Date(m.now).toISOString());
  });

  test('a leader that died after creating the Job but before its status: the next one does not run it again', () => {
    const m = new Model({}, '2026-12-04T00:00:00Z', '2026-12-04T00:05:01Z');
    m.step();
    Reflect.deleteProperty(m.cj.object, 'status'); // the status write was lost
    m.step();
    assert.equal(m.jobs.length, 1);
    assert.equal(m.cj.object.status?.lastScheduleTime, '2026-12-04T00:05:00.000Z');
  });

  test('missed times (a failover, an etcd outage): only the latest runs; with a deadline, older ones are missed', () => {
    const m = new Model({}, '2026-12-04T00:00:00Z', '2026-12-04T00:22:00Z');
    m.step();
    assert.deepEqual(
      m.names(),
      [`tick-${minutes('2026-12-04T00:20:00Z')}`],
      'one run, for the latest missed time',
    );
    const late = new Model({ startingDeadlineSeconds: 60 }, '2026-12-04T00:00:00Z', '2026-12-04T00:22:00Z');
    late.step();
    assert.deepEqual(late.names(), [], '00:20 is 2 minutes late, beyond the 60 s deadline');
    const inTime = new Model(
      { startingDeadlineSeconds: 180 },
      '2026-12-04T00:00:00Z',
      '2026-12-04T00:22:00Z',
    );
    inTime.step();
    assert.deepEqual(inTime.names(), [`tick-${minutes('2026-12-04T00:20:00Z')}`]);
    const many = new Model({ schedule: '* * * * *' }, '2026-12-03T00:00:00Z', '2026-12-04T00:00:30Z');
    many.step();
    assert.deepEqual(many.events, ['TooManyMissedTimes', 'SuccessfulCreate']);
    assert.deepEqual(many.names(), [`tick-${minutes('2026-12-04T00:00:00Z')}`]);
  });

  test('Forbid: no run while one is active (it starts when that one ends); Replace: the active one is deleted', () => {
    const f = new Model({ concurrencyPolicy: 'Forbid' }, '2026-12-04T00:00:00Z', '2026-12-04T00:05:01Z');
    f.step();
    f.now = Date.parse('2026-12-04T00:10:01Z');
    f.step();
    assert.equal(f.jobs.length, 1, 'forbidden while the first runs');
    f.finish(f.names()[0]!, 'Complete');
    f.step();
    assert.deepEqual(f.names().length, 2, 'the held run starts once the first ended');
    const r = new Model({ concurrencyPolicy: 'Replace' }, '2026-12-04T00:00:00Z', '2026-12-04T00:05:01Z');
    r.step();
    const first = r.names()[0];
    r.now = Date.parse('2026-12-04T00:10:01Z');
    r.step();
    assert.deepEqual(r.names(), [`tick-${minutes('2026-12-04T00:10:00Z')}`], `${first} replaced`);
    const a = new Model({}, '2026-12-04T00:00:00Z', '2026-12-04T00:05:01Z');
    a.step();
    a.now = Date.parse('2026-12-04T00:10:01Z');
    a.step();
    assert.equal(a.jobs.length, 2, 'Allow: they overlap');
    assert.equal(a.cj.object.status?.active?.length, 2);
  });

  test('history limits: the newest finished runs kept (3 succeeded, 1 failed by default); suspend starts nothing', () => {
    const m = new Model({ schedule: '* * * * *' }, '2026-12-04T00:00:00Z', '2026-12-04T00:00:00Z');
    for (let i = 1; i <= 6; i++) {
      m.now = Date.parse('2026-12-04T00:00:01Z') + i * 60_000;
      m.step();
      const last = m.names().at(-1)!;
      m.finish(last, i === 2 || i === 3 ? 'Failed' : 'Complete');
    }
    m.step();
    const t = (k: number) => `tick-${minutes('2026-12-04T00:00:00Z') + k}`;
    assert.deepEqual(
      m.names().sort(),
      [t(3), t(4), t(5), t(6)].sort(),
      'succeeded 4, 5, 6 and failed 3 kept',
    );
    const s = new Model({ suspend: true }, '2026-12-04T00:00:00Z', '2026-12-04T00:05:01Z');
    s.step();
    assert.deepEqual(s.names(), []);
    assert.equal(
      jobName(s.cj.object, new Date('2026-12-04T00:05:00Z')),
      `tick-${minutes('2026-12-04T00:05:00Z')}`,
    );
  });
});

describe('Job ttlSecondsAfterFinished', () => {
  test('a finished Job is deleted that long after it finished; before that the actor is woken then', () => {
    const finishedAt = '2026-12-04T00:01:00Z';
    const job: Stored<Job> = {
      object: withDefaults<Job>({
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: {
          name: 'j',
          namespace: 'default',
          uid: 'j1',
          resourceVersion: '1',
          generation: 1,
          creationTimestamp: '2026-12-04T00:00:00Z',
        },
        spec: {
          ttlSecondsAfterFinished: 60,
          template: { spec: { restartPolicy: 'Never', containers: [{ name: 'm', image: 'busybox' }] } },
        },
        status: {
          startTime: '2026-12-04T00:00:00Z',
          completionTime: finishedAt,
          succeeded: 1,
          conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: finishedAt }],
        },
      }),
      modRevision: '5',
      createRevision: '1',
    };
    const world = { nodes: [], pods: [], drained: new Set<string>() } as World;
    const early = reconcileJob(job, world, { now: '2026-12-04T00:01:30Z' });
    assert.deepEqual(
      early.filter((a) => a.type === 'wake' || a.type === 'deleteObject'),
      [{ type: 'wake', at: Date.parse('2026-12-04T00:02:00Z') }],
    );
    const due = reconcileJob(job, world, { now: '2026-12-04T00:02:00Z' });
    assert.deepEqual(
      due.filter((a) => a.type === 'deleteObject').map((a) => a.type === 'deleteObject' && a.why),
      ['ttlSecondsAfterFinished 60 s passed'],
    );
  });
});
