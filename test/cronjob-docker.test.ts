// CronJobs on real agents and Docker (issue 19 item 3): three CronJobs applied together, every minute,
// over two minute boundaries: Replace deletes the running Job of the minute before (its container
// stopped); finished runs beyond successfulJobsHistoryLimit are deleted; a suspended CronJob runs only
// when asked (`create job --from`); deleting a CronJob deletes its Jobs and their pods.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CronJob, Job, Pod } from '../agent/objects/types.ts';
import {
  createTestCluster,
  eventually,
  runCli,
  startAgentsReady,
  type TestCluster,
} from './harness/cluster.ts';
import { type Docker, ensureBusyboxImage, requireDocker } from './harness/docker.ts';

describe('CronJobs on Docker', { timeout: 300_000 }, () => {
  let c: TestCluster;
  let docker: Docker;
  let image: string;

  const ok = async (args: string[], input?: string) => {
    const r = await runCli(args, c.env, input);
    assert.equal(r.code, 0, `nokube ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const jobs = async () => (JSON.parse(await ok(['get', 'jobs', '-o', 'json'])) as { items: Job[] }).items;
  const jobsOf = async (cron: string) =>
    (await jobs()).filter((j) =>
      j.metadata.ownerReferences?.some((o) => o.kind === 'CronJob' && o.name === cron),
    );
  const pods = async () => (JSON.parse(await ok(['get', 'pods', '-o', 'json'])) as { items: Pod[] }).items;
  const runningContainers = async (job: string) =>
    (await docker.listContainers({ filters: { label: [`nokube.cluster=${c.name}`] } })).filter((x) =>
      (x.Labels['nokube.pod'] ?? '').startsWith(`${job}-`),
    );
  const cron = (name: string, extra: string, command: string) => `apiVersion: batch/v1
kind: CronJob
metadata: {name: ${name}}
spec:
  schedule: "* * * * *"
${extra}  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
            - name: main
              image: ${image}
              command: [sh, -c, '${command}']
`;

  before(async () => {
    docker = await requireDocker();
    image = await ensureBusyboxImage();
    c = await createTestCluster({ nodes: 2, net: 67 });
    await startAgentsReady(c);
  });
  after(async () => {
    await c?.stop();
  });

  test('Replace, history limit, suspend and create job --from, over two minute boundaries', async () => {
    await ok(
      ['apply', '-f', '-'],
      [
        cron('tick', '  concurrencyPolicy: Replace\n', 'trap "exit 0" TERM; sleep 300 & wait'),
        cron('done', '  successfulJobsHistoryLimit: 1\n', 'echo ran'),
        cron('held', '  suspend: true\n', 'echo by hand'),
      ].join('---\n'),
    );
    const table = await ok(['get', 'cronjobs']);
    assert.match(table, /^NAME\s+SCHEDULE\s+TIMEZONE\s+SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE/m);
    assert.match(table, /^held\s+\* \* \* \* \*\s+<none>\s+true\s+0\s+<none>/m);

    // A suspended CronJob's run, by hand.
    assert.match(await ok(['create', 'job', 'by-hand', '--from=cronjob/held']), /job.batch\/by-hand created/);
    await eventually(
      async () => (await jobs()).find((j) => j.metadata.name === 'by-hand')?.status?.succeeded === 1,
      60_000,
      'by-hand to succeed',
    );
    const byHand = (await jobs()).find((j) => j.metadata.name === 'by-hand')!;
    assert.equal(byHand.metadata.annotations?.['cronjob.kubernetes.io/instantiate'], 'manual');
    // Owned by the CronJob as kubectl's: its controller, by uid.
    const held = JSON.parse(await ok(['get', 'cronjob', 'held', '-o', 'json'])) as CronJob;
    assert.deepEqual(byHand.metadata.ownerReferences, [
      { apiVersion: 'batch/v1', kind: 'CronJob', name: 'held', uid: held.metadata.uid, controller: true },
    ]);
    // A manifest may not make that link itself.
    const forged = await runCli(
      ['apply', '-f', '-'],
      c.env,
      `apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: forged\n  ownerReferences: [{apiVersion: batch/v1, kind: CronJob, name: held, uid: ${held.metadata.uid}, controller: true}]\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: x}]\n`,
    );
    assert.notEqual(forged.code, 0);
    assert.match(forged.stderr, /metadata\.ownerReferences: set by nokube's controllers only/);

    // First minute: tick and done run.
    const first = await eventually(
      async () => {
        const [t] = await jobsOf('tick');
        return t && (await runningContainers(t.metadata.name)).length === 1 ? t.metadata.name : undefined;
      },
      90_000,
      "tick's first run, its container running",
    );
    const firstDone = await eventually(
      async () => (await jobsOf('done'))[0]?.metadata.name,
      30_000,
      "done's first run",
    );
    // Next minute: tick's second run replaces the first (deleted, its container stopped); done's first is
    // deleted once its second has finished (history 1).
    const second = await eventually(
      async () => {
        const names = (await jobsOf('tick')).map((j) => j.metadata.name);
        return names.length === 1 && names[0] !== first ? names[0] : undefined;
      },
      90_000,
      `tick's second run replacing ${first}`,
    );
    await eventually(
      async () => (await runningContainers(first)).length === 0,
      30_000,
      `${first}'s container stopped`,
    );
    await eventually(
      async () => {
        const names = (await jobsOf('done')).map((j) => j.metadata.name);
        return names.length === 1 && names[0] !== firstDone;
      },
      60_000,
      `${firstDone} deleted beyond the history limit`,
    );
    const tick = JSON.parse(await ok(['get', 'cronjob', 'tick', '-o', 'json'])) as CronJob;
    assert.deepEqual(
      tick.status?.active?.map((a) => a.name),
      [second],
    );
    const events = await ok(['describe', 'cronjob', 'tick']);
    assert.match(events, /SuccessfulCreate\s.*Created job tick-/);
    assert.deepEqual(
      (await jobsOf('held')).map((j) => j.metadata.name),
      ['by-hand'],
      'the suspended CronJob ran nothing by itself',
    );

    // Deleting a CronJob deletes its Jobs and their pods, the one made by hand too.
    await ok(['delete', 'cronjob', 'tick', 'held']);
    await eventually(async () => (await jobsOf('tick')).length === 0, 30_000, "tick's jobs gone");
    await eventually(
      async () => !(await jobs()).some((j) => j.metadata.name === 'by-hand'),
      30_000,
      'by-hand gone with held',
    );
    await eventually(
      async () => !(await pods()).some((p) => p.metadata.name.startsWith(`${second}-`)),
      30_000,
      `${second}'s pod gone`,
    );
  });
});
