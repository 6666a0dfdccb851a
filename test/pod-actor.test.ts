// The pod actor's steps and reasons, back-off timing and termination order, against a fake clock and a
// fake Docker (test/pod-actor-fakes.ts): no sleeps, time moves only when a test moves it. Volume files
// are real files in a temporary workspace. The real engine and etcd are in test/pod-actor-docker.test.ts.
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ConfigMap, Pod } from '../agent/objects/types.ts';
import { writeAtomically } from '../agent/pods/atomic-files.ts';
import { legacySpecHash } from '../agent/pods/steps/create.ts';
import { LABEL } from '../agent/runtime/labels.ts';
import { actorSetup, FakeNetwork, IMAGE, makePod, settle, sleeper, T0 } from './pod-actor-fakes.ts';

let workspace: string;
before(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'nokube-pod-actor-'));
});
after(async () => {
  await rm(workspace, { recursive: true, force: true });
});

const setup = (pod: Pod, configMaps: ConfigMap[] = []) => actorSetup(pod, { workspace, configMaps });

const cm = (data: Record<string, string>): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: {
    name: 'cfg',
    namespace: 'default',
    uid: 'u',
    resourceVersion: '1',
    generation: 1,
    creationTimestamp: '',
  },
  data,
});

describe('pod actor: reasons', () => {
  test('a container starts: Created, Started, Running, alive records', async () => {
    const f = setup(makePod({ containers: [sleeper()] }));
    const s = await f.reconcile();
    assert.equal(s.phase, 'Running');
    assert.ok(f.cs(s).state.running);
    assert.deepEqual(
      f.events.map((e) => e.reason),
      ['Created', 'Started'],
    );
    assert.ok([...f.alive.keys()].some((k) => k.endsWith('/container-m')));
  });

  test('ErrImageNeverPull: image absent with policy Never; a Warning event', async () => {
    const f = setup(makePod({ containers: [sleeper({ image: 'absent:1', imagePullPolicy: 'Never' })] }));
    const s = await f.reconcile();
    assert.equal(s.phase, 'Pending');
    assert.equal(f.cs(s).state.waiting?.reason, 'ErrImageNeverPull');
    assert.match(f.warnings()[0]!.message, /absent:1.*not present/);
  });

  test('ErrImagePull, then ImagePullBackOff; pulled once the back-off ran out and the registry has it', async () => {
    const f = setup(makePod({ containers: [sleeper({ image: 'reg/app:2' })] }));
    let s = await f.reconcile();
    assert.equal(f.cs(s).state.waiting?.reason, 'ErrImagePull');
    assert.match(f.cs(s).state.waiting?.message ?? '', /manifest unknown/);
    assert.equal(f.warnings()[0]?.reason, 'Failed');
    assert.deepEqual(f.wakes, [T0 + 1000, T0 + 10_000]);
    await f.clock.advance(1000);
    s = await f.reconcile();
    assert.equal(f.cs(s).state.waiting?.reason, 'ImagePullBackOff');
    f.docker.pullable.add('reg/app:2');
    await f.clock.advance(9000);
    s = await f.reconcile();
    assert.ok(f.cs(s).state.running, JSON.stringify(s));
    assert.equal(f.docker.callNames().filter((c) => c.startsWith('pull')).length, 2);
  });

  test('CreateContainerConfigError names the missing ConfigMap key; nothing is created', async () => {
    const f = setup(
      makePod({
        containers: [
          sleeper({ env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'color' } } }] }),
        ],
      }),
      [cm({ other: '1' })],
    );
    const s = await f.reconcile();
    assert.equal(s.phase, 'Pending');
    assert.equal(f.cs(s).state.waiting?.reason, 'CreateContainerConfigError');
    assert.match(f.warnings()[0]!.message, /couldn't find key color in ConfigMap default\/cfg/);
    assert.equal(f.docker.containers.size, 0);
  });

  test('a missing ConfigMap volume: ContainerCreating and a FailedMount event naming it', async () => {
    const f = setup(
      makePod({
        containers: [sleeper({ volumeMounts: [{ name: 'v', mountPath: '/cfg' }] })],
        volumes: [{ name: 'v', configMap: { name: 'nope' } }],
      }),
    );
    const s = await f.reconcile();
    assert.equal(f.cs(s).state.waiting?.reason, 'ContainerCreating');
    assert.equal(f.warnings()[0]?.reason, 'FailedMount');
    assert.match(f.warnings()[0]!.message, /configmap "nope" not found/);
  });

  test('CreateContainerError: the engine refuses the create; a Failed event with its message', async () => {
    const f = setup(makePod({ containers: [sleeper()] }));
    f.docker.createError = 'invalid mount config';
    const s = await f.reconcile();
    assert.equal(f.cs(s).state.waiting?.reason, 'CreateContainerError');
    assert.match(f.warnings()[0]!.message, /failed to create container "m": invalid mount config/);
    f.docker.createError = undefined;
    assert.ok(f.cs(await f.reconcile()).state.running);
  });

  test('ContainerCreating while an earlier pod of the same name still has its container', async () => {
    const pod = makePod({ containers: [sleeper()] });
    const f = setup(pod);
    f.docker.containers.set(f.name(), {
      id: 'old',
      name: f.name(),
      opts: { Image: IMAGE, Labels: { [LABEL.podUid]: 'an-earlier-uid' } },
      state: {
        Status: 'running',
        Running: true,
        Restarting: false,
        OOMKilled: false,
        ExitCode: 0,
        Error: '',
        StartedAt: new Date(T0).toISOString(),
        FinishedAt: '',
      },
    });
    const s = await f.reconcile();
    assert.equal(f.cs(s).state.waiting?.reason, 'ContainerCreating');
    assert.equal(f.docker.containers.get(f.name())!.id, 'old', 'not touched');
  });

  test('a command that does not exist: RunContainerError with the engine message, StartError 128, then CrashLoopBackOff', async () => {
    const f = setup(makePod({ containers: [sleeper({ command: ['/nonexistent'] })] }));
    let s = await f.reconcile();
    const first = f.cs(s);
    assert.equal(first.state.waiting?.reason, 'RunContainerError');
    assert.match(
      first.state.waiting?.message ?? '',
      /exec: "\/nonexistent": stat \/nonexistent: no such file/,
    );
    assert.equal(first.lastState?.terminated?.reason, 'StartError');
    assert.equal(first.lastState?.terminated?.exitCode, 128);
    assert.equal(s.phase, 'Running', 'k8s: a restarting pod is Running');
    const failed = f.warnings().find((e) => e.reason === 'Failed');
    assert.match(failed?.message ?? '', /failed to start container "m".*\/nonexistent/);
    assert.ok(f.warnings().some((e) => e.reason === 'BackOff'));
    await f.clock.advance(1000);
    s = await f.reconcile();
    assert.equal(f.cs(s).state.waiting?.reason, 'CrashLoopBackOff');
    assert.equal(f.cs(s).restartCount, 0);
    await f.clock.advance(9000);
    s = await f.reconcile();
    assert.equal(f.cs(s).restartCount, 1);
    assert.equal(f.cs(s).state.waiting?.reason, 'RunContainerError');
    await f.clock.advance(1000);
    s = await f.reconcile();
    assert.match(f.cs(s).state.waiting?.message ?? '', /back-off 20s/);
  });

  test('restartPolicy Never: a container that cannot start ends the pod Failed (StartError, 128)', async () => {
    const f = setup(
      makePod({ restartPolicy: 'Never', containers: [sleeper({ command: ['/nonexistent'] })] }),
    );
    const s = await f.reconcile();
    assert.equal(s.phase, 'Failed');
    assert.equal(f.cs(s).state.terminated?.reason, 'StartError');
    assert.equal(f.cs(s).state.terminated?.exitCode, 128);
    const again = await f.reconcile();
    assert.equal(again.phase, 'Failed');
    assert.equal(f.docker.callNames().filter((c) => c.startsWith('start')).length, 1, 'never started again');
  });

  test('exit reasons: Completed, Error with the exit code, OOMKilled', async () => {
    for (const [code, oom, reason, phase] of [
      [0, false, 'Completed', 'Succeeded'],
      [3, false, 'Error', 'Failed'],
      [137, true, 'OOMKilled', 'Failed'],
    ] as const) {
      const f = setup(makePod({ restartPolicy: 'Never', containers: [sleeper()] }));
      await f.reconcile();
      f.docker.exit(f.name(), code, { oom });
      const s = await f.reconcile();
      assert.equal(s.phase, phase);
      assert.equal(f.cs(s).state.terminated?.reason, reason);
      assert.equal(f.cs(s).state.terminated?.exitCode, code);
      await f.reconcile();
      const failed = f.warnings().filter((e) => e.reason === 'Failed');
      if (code === 0) assert.deepEqual(failed, []);
      else
        assert.deepEqual(
          failed.map((e) => e.message),
          [`Container m terminated: ${reason}, exit code ${code}`],
          'once',
        );
    }
  });

  test('a finished pod gives its sandbox back once and keeps its status, podIP included; nothing runs again', async () => {
    const network = new FakeNetwork('10.42.0.7');
    const pod = makePod({ restartPolicy: 'Never', containers: [sleeper()] });
    const f = actorSetup(pod, { workspace, network });
    const [ensure, release] = [`ensure ${pod.metadata.name}`, `release ${pod.metadata.name}`];
    assert.equal((await f.reconcile()).podIP, '10.42.0.7');
    f.docker.exit(f.name(), 0);
    const done = await f.reconcile();
    assert.equal(done.phase, 'Succeeded');
    assert.equal(done.podIP, '10.42.0.7');
    assert.deepEqual(network.calls, [ensure, ensure, release]);
    const starts = f.docker.callNames().filter((c) => c.startsWith('start')).length;
    assert.deepEqual(await f.reconcile(), done, 'the same status');
    assert.deepEqual(network.calls, [ensure, ensure, release], 'no sandbox again, released once');
    assert.equal(f.docker.callNames().filter((c) => c.startsWith('start')).length, starts);
    // An agent started again finds the pod finished in its cache: its sandbox and address (ones an older
    // agent kept) are given back once its network has read its addresses, and nothing is made.
    const restarted = new FakeNetwork('10.42.0.7');
    const g = actorSetup(pod, {
      workspace,
      network: restarted,
      previous: done,
      clock: f.clock,
      docker: f.docker,
    });
    assert.deepEqual(await g.reconcile(), done);
    assert.deepEqual(restarted.calls, [], 'not before the network holds its addresses');
    restarted.holds(pod);
    assert.deepEqual(await g.reconcile(), done);
    assert.deepEqual(restarted.calls, [release]);
    assert.equal(restarted.ipOf(pod), undefined, 'the address given back');
    assert.equal(f.docker.callNames().filter((c) => c.startsWith('start')).length, starts);
  });

  test('OnFailure restarts a failed container, not a completed one', async () => {
    const f = setup(makePod({ restartPolicy: 'OnFailure', containers: [sleeper()] }));
    await f.reconcile();
    f.docker.exit(f.name(), 1);
    let s = await f.reconcile();
    assert.equal(f.cs(s).state.waiting?.reason, 'CrashLoopBackOff');
    await f.clock.advance(10_000);
    s = await f.reconcile();
    assert.ok(f.cs(s).state.running);
    f.docker.exit(f.name(), 0);
    s = await f.reconcile();
    assert.equal(s.phase, 'Succeeded');
    assert.equal(f.cs(s).restartCount, 1);
  });
});

describe('pod actor: CrashLoopBackOff timing', () => {
  test('10 s doubling to 5 min, restarted exactly when the back-off ends, reset after 10 min running', async () => {
    const f = setup(makePod({ containers: [sleeper()] }));
    await f.reconcile();
    const seen: number[] = [];
    for (const expected of [10, 20, 40, 80, 160, 300, 300]) {
      f.docker.exit(f.name(), 1);
      let s = await f.reconcile();
      assert.equal(f.cs(s).state.waiting?.reason, 'CrashLoopBackOff');
      assert.equal(f.wakes.at(-1), f.clock.now() + expected * 1000);
      // One second short: still backing off, nothing started.
      await f.clock.advance(expected * 1000 - 1000);
      s = await f.reconcile();
      assert.equal(f.cs(s).state.waiting?.reason, 'CrashLoopBackOff');
      await f.clock.advance(1000);
      s = await f.reconcile();
      assert.ok(f.cs(s).state.running, `restarted after ${expected}s`);
      seen.push(expected);
    }
    assert.equal(f.cs(f.reports.at(-1)!).restartCount, 7);
    // Ten minutes up: the next exit starts again at 10 s.
    await f.clock.advance(600_000);
    f.docker.exit(f.name(), 1);
    const s = await f.reconcile();
    assert.match(f.cs(s).state.waiting?.message ?? '', /back-off 10s/);
    assert.equal(f.wakes.at(-1), f.clock.now() + 10_000);
    // Less than ten minutes up: the back-off keeps doubling.
    await f.clock.advance(10_000);
    await f.reconcile();
    await f.clock.advance(599_000);
    f.docker.exit(f.name(), 1);
    assert.match(f.cs(await f.reconcile()).state.waiting?.message ?? '', /back-off 20s/);
  });
});

describe('pod actor: hooks and termination', () => {
  const terminating = (pod: Pod, grace?: number): Pod => ({
    ...pod,
    metadata: {
      ...pod.metadata,
      deletionTimestamp: new Date(T0 + 1000).toISOString(),
      ...(grace === undefined ? {} : { deletionGracePeriodSeconds: grace }),
    },
  });

  test('order: preStop, SIGTERM with the remaining grace, SIGKILL when it runs out, removal, object deleted last', async () => {
    const pod = makePod({
      terminationGracePeriodSeconds: 30,
      containers: [sleeper({ lifecycle: { preStop: { exec: { command: ['sh', '-c', 'sleep 5'] } } } })],
    });
    const f = setup(pod);
    f.docker.execBehaviour = () => ({ exitCode: 0, ms: 5000 });
    await f.reconcile();
    f.docker.containers.get(f.name())!.ignoresTerm = true;
    f.docker.calls.length = 0;
    f.actor.update(terminating(pod));
    await f.clock.untilPending(2); // the hook's timeout and its command
    await f.clock.advance(5000);
    await f.clock.untilPending(1); // docker stop waiting out the grace
    assert.equal(f.finished.length, 0, 'not finished while the container runs');
    await f.clock.advance(25_000);
    await f.actor.idle();
    await settle();
    const name = f.name();
    assert.deepEqual(f.docker.calls, [
      `0 exec ${name} sh -c sleep 5`,
      `5000 exec-end ${name} 0`,
      `5000 stop ${name} t=25`,
      `5000 SIGTERM ${name}`,
      `30000 SIGKILL ${name}`,
      `30000 remove ${name}`,
      `30000 alive-deleted pod-${pod.metadata.name}`,
      `30000 finished ${pod.metadata.name}`,
    ]);
    assert.equal(f.alive.size, 0);
    assert.ok(f.events.some((e) => e.reason === 'Killing'));
    // Terminated: no more reconciles, no restart.
    f.actor.kick();
    await f.actor.idle();
    assert.equal(f.docker.containers.size, 0);
  });

  test('deletionGracePeriodSeconds wins over the spec; a process that exits on SIGTERM ends it at once', async () => {
    const pod = makePod({ terminationGracePeriodSeconds: 30, containers: [sleeper()] });
    const f = setup(pod);
    await f.reconcile();
    f.docker.calls.length = 0;
    f.actor.update(terminating(pod, 7));
    await f.actor.idle();
    await settle();
    assert.deepEqual(f.docker.callNames().slice(0, 2), [`stop ${f.name()} t=7`, `SIGTERM ${f.name()}`]);
    assert.equal(f.finished.length, 1);
  });

  test('a second delete with a shorter grace: the container is killed at the new deadline', async () => {
    const pod = makePod({ terminationGracePeriodSeconds: 30, containers: [sleeper()] });
    const f = setup(pod);
    await f.reconcile();
    f.docker.containers.get(f.name())!.ignoresTerm = true;
    f.docker.calls.length = 0;
    f.actor.update(terminating(pod, 30));
    await f.clock.untilPending(1);
    await f.clock.advance(2000);
    f.actor.update(terminating(pod, 5));
    f.actor.update(terminating(pod, 10)); // a longer one changes nothing
    await f.clock.advance(3000);
    await f.actor.idle();
    await settle();
    const name = f.name();
    assert.deepEqual(f.docker.calls.slice(0, 4), [
      `0 stop ${name} t=30`,
      `0 SIGTERM ${name}`,
      `5000 SIGKILL ${name}`,
      `5000 remove ${name}`,
    ]);
    assert.equal(f.finished.length, 1);
  });

  test('a stop the engine fails is tried again on the next reconcile; finished only once it worked', async () => {
    const pod = makePod({ terminationGracePeriodSeconds: 3, containers: [sleeper()] });
    const f = setup(pod);
    await f.reconcile();
    f.docker.stopError = 'engine hiccup';
    f.actor.update(terminating(pod));
    await f.actor.idle();
    assert.equal(f.finished.length, 0);
    assert.equal(f.docker.containers.size, 1);
    f.actor.kick();
    await f.actor.idle();
    await settle();
    assert.equal(f.finished.length, 1);
    assert.equal(f.docker.containers.size, 0);
  });

  test('a failing preStop is a FailedPreStopHook event; the container is stopped anyway', async () => {
    const pod = makePod({
      terminationGracePeriodSeconds: 10,
      containers: [sleeper({ lifecycle: { preStop: { exec: { command: ['false'] } } } })],
    });
    const f = setup(pod);
    f.docker.execBehaviour = () => ({ exitCode: 1, ms: 0, output: 'nope' });
    await f.reconcile();
    f.actor.update(terminating(pod));
    await f.actor.idle();
    const hook = f.warnings().find((e) => e.reason === 'FailedPreStopHook');
    assert.match(hook?.message ?? '', /exited with 1: nope/);
    assert.ok(f.docker.callNames().includes(`stop ${f.name()} t=10`));
    assert.equal(f.finished.length, 1);
  });

  test('a preStop that outlives the grace is cut; the container still gets the 2 s minimum', async () => {
    const pod = makePod({
      terminationGracePeriodSeconds: 5,
      containers: [sleeper({ lifecycle: { preStop: { exec: { command: ['sleep', '60'] } } } })],
    });
    const f = setup(pod);
    f.docker.execBehaviour = () => ({ exitCode: 0, ms: 60_000 });
    await f.reconcile();
    f.actor.update(terminating(pod));
    await f.clock.untilPending(2);
    await f.clock.advance(5000);
    await f.actor.idle();
    assert.match(
      f.warnings().find((e) => e.reason === 'FailedPreStopHook')?.message ?? '',
      /timed out after 5s/,
    );
    assert.ok(f.docker.callNames().includes(`stop ${f.name()} t=2`));
  });

  test('preStop httpGet reaches the pod address on the named port', async () => {
    const { createServer } = await import('node:http');
    const hits: string[] = [];
    const server = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const pod = makePod({
        terminationGracePeriodSeconds: 10,
        containers: [
          sleeper({
            ports: [{ containerPort: port, name: 'http' }],
            lifecycle: { preStop: { httpGet: { path: '/drain', port: 'http' } } },
          }),
        ],
      });
      const f = setup(pod);
      await f.reconcile();
      f.actor.update(terminating(pod));
      await f.actor.idle();
      assert.deepEqual(hits, ['/drain']);
      assert.equal(f.warnings().length, 0, JSON.stringify(f.warnings()));
      assert.equal(f.finished.length, 1);
    } finally {
      server.close();
    }
  });

  test('a failing postStart kills the container (FailedPostStartHook), which then backs off', async () => {
    const f = setup(
      makePod({ containers: [sleeper({ lifecycle: { postStart: { exec: { command: ['false'] } } } })] }),
    );
    f.docker.execBehaviour = () => ({ exitCode: 2, ms: 0 });
    const s = await f.reconcile();
    assert.ok(f.warnings().some((e) => e.reason === 'FailedPostStartHook'));
    assert.equal(f.cs(s).state.waiting?.reason, 'CrashLoopBackOff');
    assert.equal(f.cs(s).lastState?.terminated?.exitCode, 143);
  });

  test('a pod object deleted without grace (force): containers stopped with the spec grace, no finished call', async () => {
    const pod = makePod({ terminationGracePeriodSeconds: 4, containers: [sleeper()] });
    const f = setup(pod);
    await f.reconcile();
    await f.actor.remove();
    assert.ok(f.docker.callNames().includes(`stop ${f.name()} t=4`));
    assert.equal(f.docker.containers.size, 0);
    assert.equal(f.finished.length, 0);
  });
});

describe('pod actor: config edits', () => {
  test('a ConfigMap edit restarts nothing; the mounted files are swapped in place (..data), subPath aside', async () => {
    const pod = makePod({
      containers: [
        sleeper({
          env: [{ name: 'COLOR', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'color' } } }],
          volumeMounts: [
            { name: 'v', mountPath: '/cfg' },
            { name: 'v', mountPath: '/one/color', subPath: 'color' },
          ],
        }),
      ],
      volumes: [{ name: 'v', configMap: { name: 'cfg' } }],
    });
    const f = setup(pod, [cm({ color: 'blue', size: 'L' })]);
    await f.reconcile();
    const created = f.docker.containers.get(f.name())!;
    assert.ok(created.opts.Env?.includes('COLOR=blue'));
    const dir = join(workspace, 'actors', 'default', `pod-${pod.metadata.name}`, 'volumes', 'v');
    assert.equal(await readFile(join(dir, 'color'), 'utf8'), 'blue');
    assert.equal(await readlink(join(dir, 'color')), '..data/color');
    const before = await readlink(join(dir, '..data'));
    f.docker.calls.length = 0;
    f.cms.set('default/cfg', cm({ color: 'red' }));
    const s = await f.reconcile();
    assert.deepEqual(f.docker.calls, [], 'no Docker call: nothing restarted');
    assert.ok(f.cs(s).state.running);
    assert.equal(f.docker.containers.get(f.name())!.id, created.id);
    assert.equal(await readFile(join(dir, 'color'), 'utf8'), 'red');
    assert.notEqual(await readlink(join(dir, '..data')), before, '..data points at a new folder');
    await assert.rejects(lstat(join(dir, 'size')), 'a key gone from the ConfigMap is gone from the volume');
    await assert.rejects(lstat(join(dir, before)), 'the old folder is removed');
    // The bind of the volume folder shows the swap; the subPath bind is of one file (not updated, as k8s).
    const binds = (created.opts as { HostConfig?: { Binds?: string[] } }).HostConfig?.Binds ?? [];
    assert.deepEqual(binds, [`${dir}:/cfg`, `${join(dir, 'color')}:/one/color`]);
  });

  test('a volume folder of the layout before ..data (plain files) is converted in place', async () => {
    const dir = join(workspace, 'migrate');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'color'), 'blue');
    await writeFile(join(dir, 'sub', 'x'), 'old');
    const files = [
      { path: 'color', content: 'blue', mode: 0o600 },
      { path: 'sub/x', content: 'new', mode: 0o644 },
    ];
    assert.equal(await writeAtomically(dir, files, new Date(T0)), true);
    assert.equal(await readlink(join(dir, 'color')), '..data/color');
    assert.equal(await readlink(join(dir, 'sub')), '..data/sub');
    assert.equal(await readFile(join(dir, 'sub', 'x'), 'utf8'), 'new');
    assert.equal((await stat(join(dir, 'color'))).mode & 0o777, 0o600);
    assert.equal(
      await writeAtomically(dir, files, new Date(T0 + 1000)),
      false,
      'the same data writes nothing',
    );
  });

  test('a container made by an agent that hashed the env is adopted, not restarted', async () => {
    const c = sleeper({
      env: [{ name: 'COLOR', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'color' } } }],
    });
    const pod = makePod({ containers: [c] });
    const f = setup(pod, [cm({ color: 'blue' })]);
    await f.reconcile();
    const ct = f.docker.containers.get(f.name())!;
    ct.opts.Labels[LABEL.specHash] = legacySpecHash(c, ['COLOR=blue'], []);
    f.docker.calls.length = 0;
    await f.reconcile();
    assert.deepEqual(f.docker.calls, []);
    // Once adopted, a ConfigMap edit (its old hash no longer matching) still restarts nothing.
    f.cms.set('default/cfg', cm({ color: 'red' }));
    await f.reconcile();
    assert.deepEqual(f.docker.calls, []);
  });
});
