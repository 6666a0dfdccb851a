// The pod runtime: pods bound to a node run as Docker containers made by that node's agent (real etcd,
// real agent processes, the real engine). Pods are put in etcd directly, bound by hand (no controllers).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createObjects, deleteObjects, getObject, newMeta } from '../agent/objects/store.ts';
import type { ConfigMap, KubeObject, Pod, PodSpec, Secret } from '../agent/objects/types.ts';
import { readPodsCache } from '../agent/pods/cache.ts';
import { readKeyringFile } from '../agent/secrets/keyring.ts';
import { useSecretsKeyring } from '../agent/secrets/process-keyring.ts';
import { keys } from '../agent/store/keys.ts';
import { createTestCluster, eventually, runCli, type TestCluster } from './harness/cluster.ts';
import {
  type Docker,
  ensureBusyboxImage,
  pushImage,
  requireDocker,
  startRegistry,
  type TestRegistry,
} from './harness/docker.ts';

describe('pods on Docker', { timeout: 400_000 }, () => {
  let c: TestCluster;
  let docker: Docker;
  let image: string;
  let registry: TestRegistry;

  const put = (...objs: KubeObject[]) =>
    c.withEtcd((etcd) =>
      createObjects(
        etcd,
        c.name,
        objs.map((o) => newMeta(o)),
      ),
    );
  const pod = (name: string, node: string, spec: Omit<PodSpec, 'nodeName'>): Pod =>
    ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default' },
      spec: { ...spec, nodeName: node },
    }) as Pod;
  const status = (name: string) =>
    c.withEtcd(
      async (etcd) =>
        (await getObject(etcd, c.name, { kind: 'Pod', namespace: 'default', name }))?.object.status,
    );
  /** Once the pod's status says `phase`: that status. */
  const inPhase = (name: string, phase: string) =>
    eventually(
      async () => {
        const s = await status(name);
        return s?.phase === phase && s;
      },
      60_000,
      `${name} ${phase}`,
    );
  /** Every container Docker has of the pod (its init containers too). */
  const containersOfPod = (podName: string) =>
    docker.listContainers({
      all: true,
      filters: { label: [`nokube.cluster=${c.name}`, `nokube.pod=${podName}`] },
    });
  /** The pod's container removed while its agent is down; the agent started with etcd paused makes it
   * again from its cache. */
  const remadeWithEtcdAway = async (node: string, podName: string, containerId: string) => {
    await docker.getContainer(containerId).remove({ force: true });
    await c.etcd.pause();
    try {
      await c.startAgent(node);
      await eventually(
        async () => (await containerOf(podName))?.State === 'running',
        30_000,
        `${podName} started again from the cache`,
      );
    } finally {
      await c.etcd.resume();
    }
  };
  const containerOf = async (podName: string) => (await containersOfPod(podName))[0];

  /** A pod of one container that sleeps an hour and stops at once. */
  const sleeper = (name: string, node: string): Pod =>
    pod(name, node, {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'm', image, command: ['sleep', '3600'] }],
    });

  before(async () => {
    docker = await requireDocker();
    image = await ensureBusyboxImage();
    registry = await startRegistry();
    c = await createTestCluster({ nodes: 2, net: 43 });
    // This process writes a Secret to etcd itself: sealed with the cluster's key, as a head would.
    useSecretsKeyring(await readKeyringFile(c.secretsKeyFile));
    await c.startAgent('n1');
    await c.startAgent('n2');
  });
  after(async () => {
    await c?.stop();
    await registry?.stop();
  });

  test('a pod runs with its env, files and limits; status Running, podIP = node address', async () => {
    const hostDir = join(c.dir, 'out');
    await put(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'cfg', namespace: 'default' },
        data: { color: 'blue', 'file.txt': 'from a configmap' },
      } as unknown as ConfigMap,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'sec', namespace: 'default' },
        data: { token: Buffer.from('t0ken').toString('base64') },
      } as unknown as Secret,
      pod('envy', 'n2', {
        containers: [
          {
            name: 'main',
            image,
            command: ['sh', '-c'],
            args: [
              // The file first: the env file, read once it is non-empty, says both are written.
              'cat /cfg/file.txt > /out/file; echo "$COLOR $TOKEN $ME $NODE $IP" > /out/env; sleep 3600',
            ],
            env: [
              { name: 'COLOR', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'color' } } },
              { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'sec', key: 'token' } } },
              { name: 'ME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
              { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            ],
            resources: { limits: { cpu: '250m', memory: '32Mi' } },
            volumeMounts: [
              { name: 'out', mountPath: '/out' },
              { name: 'cfg', mountPath: '/cfg', readOnly: true },
            ],
          },
        ],
        volumes: [
          { name: 'out', hostPath: { path: hostDir, type: 'DirectoryOrCreate' } },
          { name: 'cfg', configMap: { name: 'cfg' } },
        ],
        terminationGracePeriodSeconds: 1,
      }),
    );
    const st = await inPhase('envy', 'Running');
    assert.equal(st.podIP, c.nodes[1]!.address);
    assert.equal(st.nodeName, 'n2');
    const env = await eventually(
      () => readFile(join(hostDir, 'env'), 'utf8').catch(() => ''),
      20_000,
      'env file',
    );
    assert.equal(env.trim(), `blue t0ken envy n2 ${c.nodes[1]!.address}`);
    assert.equal(await readFile(join(hostDir, 'file'), 'utf8'), 'from a configmap');
    const ct = await containerOf('envy');
    assert.equal(ct?.Labels['nokube.node'], 'n2');
    const info = await docker.getContainer(ct!.Id).inspect();
    assert.equal(info.HostConfig.NanoCpus, 250_000_000);
    assert.equal(info.HostConfig.Memory, 32 * 1024 * 1024);
    assert.equal(info.HostConfig.NetworkMode, 'host');
    const alive = await c.withEtcd((etcd) =>
      etcd
        .getAll()
        .prefix(keys.alive(c.name, 'default', 'pod-envy'))
        .keys(),
    );
    assert.ok(
      alive.some((k) => k.endsWith('pod-envy/container-main')),
      `alive keys: ${alive}`,
    );
  });

  test('init containers: one after another into an emptyDir, then the container; a failure with Never fails the pod, with Always it backs off; an agent restart runs none again', async () => {
    const shared = { name: 'work', mountPath: '/work' };
    await put(
      pod('inited', 'n1', {
        terminationGracePeriodSeconds: 1,
        volumes: [{ name: 'work', emptyDir: {} }],
        initContainers: [
          { name: 'first', image, command: ['sh', '-c', 'echo a > /work/a'], volumeMounts: [shared] },
          {
            name: 'second',
            image,
            command: ['sh', '-c', 'test -f /work/a && echo b > /work/b'],
            volumeMounts: [shared],
          },
        ],
        containers: [
          {
            name: 'm',
            image,
            command: ['sh', '-c', 'cat /work/a /work/b > /work/seen; sleep 3600'],
            volumeMounts: [shared],
          },
        ],
      }),
      pod('init-never', 'n1', {
        restartPolicy: 'Never',
        initContainers: [{ name: 'bad', image, command: ['sh', '-c', 'exit 3'] }],
        containers: [{ name: 'm', image, command: ['true'] }],
      }),
      pod('init-always', 'n1', {
        terminationGracePeriodSeconds: 1,
        initContainers: [{ name: 'bad', image, command: ['sh', '-c', 'exit 3'] }],
        containers: [{ name: 'm', image, command: ['sleep', '3600'] }],
      }),
    );
    const inited = await inPhase('inited', 'Running');
    assert.deepEqual(
      inited.initContainerStatuses?.map((c) => [c.name, c.state.terminated?.exitCode, c.ready]),
      [
        ['first', 0, true],
        ['second', 0, true],
      ],
    );
    assert.equal(inited.conditions?.find((c) => c.type === 'Initialized')?.status, 'True');
    const made = await containersOfPod('inited');
    const byName = new Map(made.map((m) => [m.Labels['nokube.container'], m]));
    assert.deepEqual([...byName.keys()].sort(), ['first', 'm', 'second']);
    const seen = await docker.getContainer(byName.get('m')!.Id).inspect();
    const started = new Map(
      await Promise.all(
        [...byName].map(
          async ([n, m]) => [n, (await docker.getContainer(m.Id).inspect()).State.StartedAt] as const,
        ),
      ),
    );
    assert.equal(seen.State.Running, true);
    // With Never, the failed init container fails the pod; its container is never made.
    const never = await inPhase('init-never', 'Failed');
    assert.equal(never.initContainerStatuses?.[0]?.state.terminated?.exitCode, 3);
    assert.equal(never.containerStatuses?.[0]?.state.waiting?.reason, 'PodInitializing');
    assert.equal(never.conditions?.find((c) => c.type === 'Initialized')?.status, 'False');
    // With Always, it is restarted after a back-off: Init:CrashLoopBackOff in `get pods`.
    let shown = '';
    await eventually(
      async () => {
        const out = await runCli(['get', 'pods', 'init-never', 'init-always'], c.env);
        shown = out.stdout + out.stderr;
        return (
          /init-never\s+0\/1\s+Init:Error\s/.test(out.stdout) &&
          /init-always\s+0\/1\s+Init:CrashLoopBackOff\s/.test(out.stdout)
        );
      },
      60_000,
      'Init:Error and Init:CrashLoopBackOff in get pods',
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${shown}`);
    });
    // As kubectl: of several names, the ones found are printed and each missing one said (exit 1).
    const some = await runCli(['get', 'pods', 'init-never', 'nosuch'], c.env);
    assert.equal(some.code, 1);
    assert.match(some.stdout, /^NAME .*\ninit-never\s/);
    assert.equal(some.stderr.trim(), 'error: Error from server (NotFound): pods "nosuch" not found');
    for (const p of ['init-never', 'init-always']) {
      const list = await containersOfPod(p);
      assert.deepEqual(
        list.map((m) => m.Labels['nokube.container']),
        ['bad'],
        `${p}: no container but the init container`,
      );
    }
    // An agent restart: the initialized pod's init containers are not run again, its container not restarted.
    assert.equal(await c.agents.get('n1')!.kill('SIGTERM'), 0);
    await c.startAgent('n1');
    await put(sleeper('after-init', 'n1'));
    await eventually(
      async () => (await status('after-init'))?.phase === 'Running',
      60_000,
      'after-init Running',
    );
    for (const [n, m] of byName)
      assert.equal(
        (await docker.getContainer(m.Id).inspect()).State.StartedAt,
        started.get(n),
        `${n} not started again`,
      );
    assert.equal((await status('inited'))?.phase, 'Running');
  });

  test('securityContext: the user, groups, read-only root, capabilities and no-new-privileges reach Docker; an emptyDir the user can write, owned by fsGroup; runAsNonRoot against a root image refused', async () => {
    await put(
      pod('hardened', 'n1', {
        terminationGracePeriodSeconds: 1,
        securityContext: { runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, runAsNonRoot: true },
        volumes: [{ name: 'scratch', emptyDir: {} }],
        containers: [
          {
            name: 'm',
            image,
            // Writes where the pod lets it (the emptyDir), not to its read-only root; says who it is.
            command: ['sh', '-c', 'id > /scratch/id && ! touch /root-write 2>/dev/null && sleep 3600'],
            volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
            securityContext: {
              readOnlyRootFilesystem: true,
              allowPrivilegeEscalation: false,
              capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
            },
          },
        ],
      }),
      pod('root-image', 'n1', {
        securityContext: { runAsNonRoot: true },
        containers: [{ name: 'm', image, command: ['sleep', '3600'] }],
      }),
    );
    await inPhase('hardened', 'Running');
    const ct = (await containerOf('hardened'))!;
    const info = await docker.getContainer(ct.Id).inspect();
    assert.equal(info.Config.User, '1000:3000');
    assert.equal(info.HostConfig.ReadonlyRootfs, true);
    assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
    assert.deepEqual(info.HostConfig.CapAdd, ['NET_BIND_SERVICE']);
    assert.deepEqual(info.HostConfig.SecurityOpt, ['no-new-privileges']);
    assert.deepEqual(info.HostConfig.GroupAdd, ['2000']);
    const scratch = join(c.dir, 'ws', 'n1', 'actors', 'default', 'pod-hardened', 'volumes', 'scratch');
    const id = await eventually(
      async () => (await readFile(join(scratch, 'id'), 'utf8').catch(() => '')) || undefined,
      30_000,
      'the container to write its id',
    );
    assert.match(id, /^uid=1000 gid=3000 groups=.*2000/);
    const st = await stat(scratch);
    assert.equal(st.gid, 2000);
    assert.equal(st.mode & 0o7777, 0o2777);
    const refused = await eventually(
      async () => {
        const w = (await status('root-image'))?.containerStatuses?.[0]?.state.waiting;
        return w?.reason === 'CreateContainerConfigError' && w;
      },
      60_000,
      'root-image CreateContainerConfigError',
    );
    assert.match(
      refused.message ?? '',
      /^container has runAsNonRoot and image will run as root \(pod: "root-image_default", container: m\)$/,
    );
    assert.equal(await containerOf('root-image'), undefined, 'no container made');
  });

  test('termination messages: what the container wrote to its terminationMessagePath, else with FallbackToLogsOnError the end of its log', async () => {
    await put(
      pod('said', 'n1', {
        restartPolicy: 'Never',
        schedulerName: 'default-scheduler',
        containers: [
          {
            name: 'm',
            image,
            command: ['sh', '-c', 'echo "disk full on /data" > /dev/termination-log; exit 2'],
            terminationMessagePath: '/dev/termination-log',
            terminationMessagePolicy: 'File',
          },
        ],
      }),
      pod('logged', 'n1', {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'm',
            image,
            command: ['sh', '-c', 'echo starting; echo "fatal: no config" >&2; exit 1'],
            terminationMessagePolicy: 'FallbackToLogsOnError',
          },
        ],
      }),
    );
    const said = await inPhase('said', 'Failed');
    assert.deepEqual(said.containerStatuses?.[0]?.state.terminated?.message, 'disk full on /data\n');
    // Read once per exit: the file is emptied for the container's next run.
    const file = join(c.dir, 'ws', 'n1', 'actors', 'default', 'pod-said', 'termination', 'm');
    assert.equal(await readFile(file, 'utf8'), '');
    const logged = await inPhase('logged', 'Failed');
    // Both streams' lines (Docker keeps them in the order they reached it).
    const lines = (logged.containerStatuses?.[0]?.state.terminated?.message ?? '').split('\n').sort();
    assert.deepEqual(lines, ['', 'fatal: no config', 'starting']);
    const described = await runCli(['describe', 'pod', 'said'], c.env);
    assert.match(described.stdout, /Message:\s+disk full on \/data\n/);
  });

  test('restart policies: Never + exit 1 -> Failed, OnFailure + exit 0 -> Succeeded', async () => {
    await put(
      pod('never', 'n1', {
        restartPolicy: 'Never',
        containers: [{ name: 'm', image, command: ['sh', '-c', 'exit 1'] }],
      }),
      pod('onfail', 'n1', {
        restartPolicy: 'OnFailure',
        containers: [{ name: 'm', image, command: ['true'] }],
      }),
    );
    const never = await inPhase('never', 'Failed');
    assert.equal(never.containerStatuses?.[0]?.state.terminated?.exitCode, 1);
    await eventually(async () => (await status('onfail'))?.phase === 'Succeeded', 60_000, 'onfail Succeeded');
  });

  test('a crashing container backs off: CrashLoopBackOff, restart count grows', async () => {
    await put(pod('crash', 'n1', { containers: [{ name: 'm', image, command: ['sh', '-c', 'exit 3'] }] }));
    const cs = await eventually(
      async () => {
        const s = (await status('crash'))?.containerStatuses?.[0];
        return s && s.restartCount >= 1 && s.state.waiting?.reason === 'CrashLoopBackOff' && s;
      },
      90_000,
      'crash restarted once and backing off',
    );
    assert.equal(cs.lastState?.terminated?.exitCode, 3);
    assert.match(cs.state.waiting!.message ?? '', /back-off 20s/);
  });

  test('an image the registry does not have: ErrImagePull then ImagePullBackOff', async () => {
    await put(pod('nopull', 'n1', { containers: [{ name: 'm', image: `${registry.host}/nothing:1` }] }));
    const cs = await eventually(
      async () => {
        const s = (await status('nopull'))?.containerStatuses?.[0];
        return s && /ErrImagePull|ImagePullBackOff/.test(s.state.waiting?.reason ?? '') && s;
      },
      60_000,
      'nopull waiting on the image',
    );
    assert.match(cs.state.waiting!.message ?? '', /nothing/);
    assert.equal((await status('nopull'))?.phase, 'Pending');
  });

  test('imagePullSecrets: none or a wrong password is ErrImagePull; `create secret docker-registry` pulls (a missing Secret warned); no password in a status, event or log', async () => {
    const auth = { username: 'puller', password: 'S3cret-pw-91' };
    const wrong = 'wr0ng-pw-47';
    const priv = await startRegistry({ auth });
    try {
      const ref = await pushImage(docker, image, priv.host, 'private/app:1', auth);
      // Gone from the engine: each pod must pull it (both nodes share this machine's engine).
      await docker.getImage(ref).remove();
      for (const [name, password] of [
        ['regcred', auth.password],
        ['badcred', wrong],
      ] as const) {
        // Once the head (n1) registered: the other tests need none and do not wait for it.
        const r = await eventually(
          async () => {
            const out = await runCli(
              ['create', 'secret', 'docker-registry', name, '--docker-server', priv.host].concat([
                '--docker-username',
                auth.username,
                '--docker-password',
                password,
              ]),
              c.env,
            );
            return (out.code === 0 || !/no head/.test(out.stderr)) && out;
          },
          30_000,
          'the head to take the Secret',
        );
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`secret/${name} created`));
      }
      const sleeper = { name: 'm', image: ref, command: ['sleep', '3600'] };
      await put(
        pod('priv-none', 'n1', { containers: [sleeper] }),
        pod('priv-bad', 'n1', { imagePullSecrets: [{ name: 'badcred' }], containers: [sleeper] }),
      );
      for (const name of ['priv-none', 'priv-bad'])
        await eventually(
          async () => {
            const s = (await status(name))?.containerStatuses?.[0];
            return /ErrImagePull|ImagePullBackOff/.test(s?.state.waiting?.reason ?? '') && s;
          },
          60_000,
          `${name} refused by the registry`,
        );
      await c.withEtcd((etcd) =>
        deleteObjects(etcd, c.name, [
          { kind: 'Pod', namespace: 'default', name: 'priv-none' },
          { kind: 'Pod', namespace: 'default', name: 'priv-bad' },
        ]),
      );
      // The first Secret is not there: warned, and the second one pulls.
      await put(
        pod('priv-ok', 'n2', {
          imagePullSecrets: [{ name: 'missing' }, { name: 'regcred' }],
          containers: [sleeper],
        }),
      );
      await eventually(async () => (await status('priv-ok'))?.phase === 'Running', 60_000, 'priv-ok Running');
      const events = await c.withEtcd((etcd) => etcd.getAll().prefix(keys.eventsPrefix(c.name)).strings());
      const text = Object.values(events).join('\n');
      assert.match(text, /FailedToRetrieveImagePullSecret[^\n]*default\/missing/);
      // Without a Secret the engine sent no credentials; with the wrong one it sent them, and was refused.
      assert.match(text, /priv-none[^\n]*Failed to pull image[^\n]*no basic auth credentials/);
      assert.match(text, /priv-bad[^\n]*Failed to pull image[^\n]*unauthorized/);
      assert.match(text, /Successfully pulled image[^\n]*private\/app/);
      const logs = [...c.agents.values()].map((a) => a.output()).join('\n');
      for (const password of [auth.password, wrong]) {
        assert.ok(!text.includes(password), 'no password in an event');
        assert.ok(!logs.includes(password), 'no password in an agent log');
        assert.ok(!JSON.stringify(await status('priv-ok')).includes(password));
      }
    } finally {
      await priv.stop();
    }
  });

  test('a missing ConfigMap: CreateContainerConfigError until it exists, then Running', async () => {
    await put(
      pod('late', 'n1', {
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'm',
            image,
            command: ['sleep', '3600'],
            env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'late-cfg', key: 'x' } } }],
          },
        ],
      }),
    );
    const cs = await eventually(
      async () => {
        const s = await status('late');
        return s?.containerStatuses?.[0]?.state.waiting?.reason === 'CreateContainerConfigError' && s;
      },
      30_000,
      'late waiting on its ConfigMap',
    );
    assert.equal(cs.phase, 'Pending');
    assert.match(cs.containerStatuses![0]!.state.waiting!.message ?? '', /late-cfg/);
    assert.equal(await containerOf('late'), undefined);
    await put({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'late-cfg', namespace: 'default' },
      data: { x: '1' },
    } as unknown as ConfigMap);
    await eventually(async () => (await status('late'))?.phase === 'Running', 30_000, 'late Running');
  });

  test('a pod whose controller owner is not in etcd is deleted by its agent', async () => {
    const orphan = sleeper('orphan', 'n1');
    orphan.metadata.ownerReferences = [
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'ghost', uid: randomUUID(), controller: true },
    ];
    await put(orphan);
    await eventually(
      () =>
        c.withEtcd(
          async (etcd) =>
            !(await getObject(etcd, c.name, { kind: 'Pod', namespace: 'default', name: 'orphan' })),
        ),
      30_000,
      'orphan deleted',
    );
    await eventually(async () => !(await containerOf('orphan')), 30_000, 'orphan container removed');
  });

  test('an agent restart restarts no container; a deleted pod leaves nothing behind', async () => {
    const before = await containerOf('envy');
    const startedAt = (await docker.getContainer(before!.Id).inspect()).State.StartedAt;
    assert.equal(await c.agents.get('n2')!.kill('SIGTERM'), 0);
    assert.equal(
      (await docker.getContainer(before!.Id).inspect()).State.Running,
      true,
      'still running without its agent',
    );
    await c.startAgent('n2');
    // The restarted agent at work: it runs a pod put after its start (its actors, envy's among them,
    // started from its cache before it read etcd).
    await put(sleeper('probe', 'n2'));
    await eventually(async () => (await status('probe'))?.phase === 'Running', 30_000, 'probe Running');
    const after = await docker.getContainer(before!.Id).inspect();
    assert.equal(after.State.StartedAt, startedAt, 'adopted, not restarted');
    const stored = await c.withEtcd((etcd) =>
      getObject(etcd, c.name, { kind: 'Pod', namespace: 'default', name: 'envy' }),
    );
    await c.withEtcd((etcd) =>
      deleteObjects(etcd, c.name, [
        { kind: 'Pod', namespace: 'default', name: 'envy', createRevision: stored!.createRevision },
      ]),
    );
    await eventually(async () => !(await containerOf('envy')), 30_000, 'envy container removed');
    const ws = join(c.dir, 'ws', 'n2', 'actors', 'default', 'pod-envy');
    await eventually(() => !existsSync(ws), 10_000, 'volumes dir removed');
    await eventually(
      () =>
        c.withEtcd(async (etcd) => {
          const left = await etcd.getAll().prefix(`/nokube/${c.name}/`).keys();
          // Events stay their hour, as in k8s.
          return !left.some((k) => k.includes('envy') && !k.includes('/events/'));
        }),
      15_000,
      'no key of envy left but events (object, status, alive)',
    );
  });

  test('an agent started while etcd is down runs its cached pods', async () => {
    await put(sleeper('cached', 'n1'));
    await eventually(async () => (await status('cached'))?.phase === 'Running', 60_000, 'cached Running');
    await eventually(
      async () =>
        (await readPodsCache(join(c.dir, 'ws', 'n1')))?.pods.some((p) => p.pod.metadata.name === 'cached'),
      10_000,
      'the pod in n1’s cache',
    );
    await c.agents.get('n1')!.kill('SIGKILL');
    const ct = await containerOf('cached');
    await remadeWithEtcdAway('n1', 'cached', ct!.Id);
  });

  test('a damaged pods cache with etcd down: said, the running container left alone; adopted, not restarted, once etcd answers', async () => {
    await put(sleeper('damaged', 'n1'));
    await eventually(async () => (await status('damaged'))?.phase === 'Running', 60_000, 'damaged Running');
    const ct = (await containerOf('damaged'))!;
    const startedAt = (await docker.getContainer(ct.Id).inspect()).State.StartedAt;
    await c.agents.get('n1')!.kill('SIGKILL');
    // Cut short, as a power cut can leave it on a file system that lost the write.
    await writeFile(join(c.dir, 'ws', 'n1', 'agent', 'pods-cache.json'), '{"pods": [{"pod": {"kind": "Po');
    await c.etcd.pause();
    try {
      await c.startAgent('n1');
      await eventually(
        () => c.agents.get('n1')!.output().includes('pods cache unreadable'),
        30_000,
        'n1 to say its pods cache is unreadable',
      );
      assert.equal((await docker.getContainer(ct.Id).inspect()).State.Running, true, 'left running');
    } finally {
      await c.etcd.resume();
    }
    // n1 at work with etcd again (a pod put now runs): by then it listed its pods and adopted damaged's.
    await put(sleeper('after-damage', 'n1'));
    await eventually(
      async () => (await status('after-damage'))?.phase === 'Running',
      60_000,
      'after-damage Running',
    );
    await eventually(
      async () => (await status('damaged'))?.phase === 'Running',
      30_000,
      'damaged Running again',
    );
    const after = await docker.getContainer(ct.Id).inspect();
    assert.equal(after.State.StartedAt, startedAt, 'adopted, not restarted');
    assert.equal(after.State.Running, true);
  });

  test("a pod's first container starts only once the agent's cache holds it: killed at once, the agent runs it on from the cache", async () => {
    await put(sleeper('early', 'n2'));
    // The agent killed as soon as the pod's container exists (before the cache's usual write, 1 s after
    // a change): the cache on disk holds the pod already.
    const first = await eventually(containerOf.bind(null, 'early'), 60_000, "early's container");
    await c.agents.get('n2')!.kill('SIGKILL');
    const cached = await readPodsCache(join(c.dir, 'ws', 'n2'));
    assert.ok(
      cached?.pods.some((p) => p.pod.metadata.name === 'early'),
      'the pod in the cache before its container',
    );
    // Started cut off from etcd, the agent runs it from that cache.
    await remadeWithEtcdAway('n2', 'early', first.Id);
  });
});
