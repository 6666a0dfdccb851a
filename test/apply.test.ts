// apply / get / describe / delete against a real etcd and a real head agent, through the real CLI.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { createLogger } from '../agent/log/logger.ts';
import { ApplyError, applyManifests } from '../agent/objects/apply.ts';
import { EventRecorder } from '../agent/objects/events.ts';
import { getObject, ObjectConflictError, objectKey } from '../agent/objects/store.ts';
import type { Deployment, Pod } from '../agent/objects/types.ts';
import { validateManifestText } from '../agent/objects/validate.ts';
import { keys } from '../agent/store/keys.ts';
import {
  cliCommand,
  createTestCluster,
  eventually,
  getJson,
  runCli,
  type TestCluster,
} from './harness/cluster.ts';

const deployment = (opts: { replicas?: number; labels?: string } = {}) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web${opts.labels ?? ''}}
spec:
  replicas: ${opts.replicas ?? 0}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: web, image: nokube-test/none:1}
`;
const configMap = `apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, labels: {tier: conf}}
data: {greeting: hello}
`;

/** The example of https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/ (controllers/daemonset.yaml). */
const FLUENTD_DAEMONSET = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: fluentd-elasticsearch
  namespace: kube-system
  labels:
    k8s-app: fluentd-logging
spec:
  selector:
    matchLabels:
      name: fluentd-elasticsearch
  template:
    metadata:
      labels:
        name: fluentd-elasticsearch
    spec:
      tolerations:
      # these tolerations are to have the daemonset runnable on control plane nodes
      # remove them if your control plane nodes should not run pods
      - key: node-role.kubernetes.io/control-plane
        operator: Exists
        effect: NoSchedule
      - key: node-role.kubernetes.io/master
        operator: Exists
        effect: NoSchedule
      containers:
      - name: fluentd-elasticsearch
        image: quay.io/fluentd_elasticsearch/fluentd:v2.5.2
        resources:
          limits:
            memory: 200Mi
          requests:
            cpu: 100m
            memory: 200Mi
        volumeMounts:
        - name: varlog
          mountPath: /var/log
      # it may be desirable to set \`terminationGracePeriodSeconds\` to a longer period to give the
      # container a chance to stop gracefully
      terminationGracePeriodSeconds: 30
      volumes:
      - name: varlog
        hostPath:
          path: /var/log
`;

describe('apply, get, describe, delete', { timeout: 240_000 }, () => {
  let c: TestCluster;
  let work: string;
  const cli = (args: string[], input?: string) => runCli(args, c.env, input);
  /** The head API straight (a CLI run costs a process start): status and JSON body. */
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${c.headUrl()}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return {
      status: res.status,
      body: (await res.json()) as { error?: string; problems?: string[]; items?: Array<{ text: string }> },
    };
  };
  const file = async (name: string, text: string) => {
    const path = join(work, name);
    await writeFile(path, text);
    return path;
  };
  const objectKeys = () =>
    c.withEtcd(async (etcd) => etcd.getAll().prefix(keys.objectsPrefix(c.name)).keys());

  before(async () => {
    c = await createTestCluster({ nodes: 1, net: 46 });
    work = await mkdtemp(join(tmpdir(), 'nokube-apply-'));
    await c.startAgent('n1');
    await eventually(() => getJson(`${c.headUrl()}/readyz`), 30_000, 'head ready');
  });
  after(async () => {
    await c.stop();
  });

  test('one bad document: the CLI names file and document, and nothing is stored', async () => {
    const path = await file(
      'bad.yaml',
      `${configMap}---\n${deployment().replace('image: nokube-test/none:1', 'imagePullPolicy: Sometimes')}`,
    );
    const r = await cli(['apply', '-f', path]);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(
      r.stderr,
      `error: ${path}:18: document 2 (Deployment web): spec.template.spec.containers[0].image: required field is missing\n` +
        `error: ${path}:18: document 2 (Deployment web): spec.template.spec.containers[0].imagePullPolicy: must be one of "Always", "IfNotPresent", "Never"\n`,
    );
    assert.deepEqual(await objectKeys(), []);
    // The head validates too: a request that skips the CLI is refused the same way.
    const res = await fetch(`${c.headUrl()}/api/v1/apply`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        documents: [parse(configMap), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'X' } }],
      }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { problems: string[] };
    assert.deepEqual(body.problems, [
      `request: document 2 (ConfigMap X): metadata.name: must be a lowercase RFC 1123 subdomain: at most 253 characters of a-z, 0-9, '-' or '.', starting and ending with a letter or digit`,
    ]);
    assert.deepEqual(await objectKeys(), []);
  });

  test('a namespace must exist or be in the same apply', async () => {
    const inTeam = configMap.replace('name: cfg,', 'name: cfg, namespace: team,');
    const r = await cli(['apply', '-f', '-'], inTeam);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error from server \(NotFound\): namespaces "team" not found/);
    assert.deepEqual(await objectKeys(), []);
    const ok = await cli(
      ['apply', '-f', '-'],
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---\n${inTeam}`,
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'namespace/team created\nconfigmap/cfg created\n');
    const del = await cli(['delete', 'namespace', 'team']);
    assert.equal(del.stdout, 'namespaces "team" deleted\n');
    assert.deepEqual(await objectKeys(), [], 'the namespace took its ConfigMap along');
  });

  test('PriorityClass: cluster-wide; a pod template naming a missing class, or a second global default, stores nothing', async () => {
    const pc = (name: string, value: number, extra = '') =>
      `apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: ${name}${extra}}\nvalue: ${value}\n`;
    const critical = deployment().replace(
      '    spec:\n      containers:',
      '    spec:\n      priorityClassName: critical\n      containers:',
    );
    const missing = await cli(['apply', '-f', '-'], critical);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no PriorityClass with name critical was found/);
    assert.deepEqual(await objectKeys(), []);
    const ns = await cli(['apply', '-f', '-'], pc('critical', 1000, ', namespace: default'));
    assert.match(ns.stderr, /metadata\.namespace: not allowed for a PriorityClass/);
    const both = await cli(['apply', '-f', '-'], `${pc('critical', 1000)}---\n${critical}`);
    assert.equal(both.code, 0, both.stderr);
    assert.equal(
      both.stdout,
      'priorityclass.scheduling.k8s.io/critical created\ndeployment.apps/web created\n',
    );
    const first = await cli(['apply', '-f', '-'], `${pc('batch', 10)}globalDefault: true\n`);
    assert.equal(first.code, 0, first.stderr);
    const second = await cli(['apply', '-f', '-'], `${pc('other', 5)}globalDefault: true\n`);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /globalDefault: batch is already marked as the default priority class/);
    const changed = await cli(['apply', '-f', '-'], pc('critical', 2000));
    assert.match(changed.stderr, /value: field is immutable; delete and re-create the PriorityClass/);
    const got = await cli(['get', 'priorityclasses']);
    assert.match(
      got.stdout,
      /^NAME\s+VALUE\s+GLOBAL-DEFAULT\s+AGE\nbatch\s+10\s+true\s+.*\ncritical\s+1000\s+false/,
    );
    for (const args of [
      ['deployment', 'web'],
      ['priorityclass', 'critical'],
      ['pc', 'batch'],
    ])
      assert.equal((await cli(['delete', ...args])).code, 0);
    assert.deepEqual(await objectKeys(), []);
  });

  test('ResourceQuota and LimitRange: a refusal stores nothing; defaults fill a Pod; scale past the quota is refused', async () => {
    const policy = `apiVersion: v1
kind: Namespace
metadata: {name: capped}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute, namespace: capped}
spec:
  hard: {requests.cpu: "1", pods: "4", count/configmaps: "1"}
---
apiVersion: v1
kind: LimitRange
metadata: {name: defaults, namespace: capped}
spec:
  limits:
    - type: Container
      defaultRequest: {cpu: 200m}
      default: {cpu: 500m}
      max: {cpu: "1"}
`;
    assert.equal((await cli(['apply', '-f', '-'], policy)).code, 0);
    const before = await objectKeys();
    const web = (replicas: number) =>
      deployment({ replicas }).replace('name: web\n', 'name: web\n  namespace: capped\n');
    // 6 x 200m (the LimitRange's default request) is over 1 cpu and 4 pods.
    const over = await cli(['apply', '-f', '-'], web(6));
    assert.equal(over.code, 1);
    assert.match(
      over.stderr,
      /exceeded quota: compute, requested: requests\.cpu=1200m,pods=6, used: requests\.cpu=0,pods=0, limited: requests\.cpu=1,pods=4/,
    );
    assert.deepEqual(await objectKeys(), before, 'nothing stored');
    assert.equal((await cli(['apply', '-f', '-'], web(4))).code, 0);
    const scaled = await cli(['scale', 'deployment/web', '-n', 'capped', '--replicas', '5']);
    assert.equal(scaled.code, 1);
    assert.match(scaled.stderr, /exceeded quota: compute/);
    const tooBig = await cli(
      ['apply', '-f', '-'],
      'apiVersion: v1\nkind: Pod\nmetadata: {name: big, namespace: capped}\nspec:\n  containers: [{name: c, image: x, resources: {limits: {cpu: "2"}}}]\n',
    );
    assert.match(tooBig.stderr, /maximum cpu usage per Container is 1, but limit is 2/);
    const two = await cli(
      ['apply', '-f', '-'],
      `${configMap.replace('name: cfg,', 'name: a, namespace: capped,')}---\n${configMap.replace('name: cfg,', 'name: b, namespace: capped,')}`,
    );
    assert.match(two.stderr, /exceeded quota: compute, requested: count\/configmaps=2/);
    await cli(['scale', 'deployment/web', '-n', 'capped', '--replicas', '0']);
    const pod = await cli(
      ['apply', '-f', '-'],
      'apiVersion: v1\nkind: Pod\nmetadata: {name: small, namespace: capped}\nspec:\n  containers: [{name: c, image: x}]\n',
    );
    assert.equal(pod.code, 0, pod.stderr);
    const stored = await c.withEtcd((etcd) =>
      getObject(etcd, c.name, { kind: 'Pod', namespace: 'capped', name: 'small' }),
    );
    assert.deepEqual((stored!.object as Pod).spec.containers[0]!.resources, {
      limits: { cpu: '500m' },
      requests: { cpu: '200m' },
    });
    const described = await cli(['describe', 'quota', 'compute', '-n', 'capped']);
    assert.match(described.stdout, /requests\.cpu\s+200m\s+1\n/, described.stdout);
    assert.match(described.stdout, /pods\s+1\s+4\n/);
    assert.equal((await cli(['delete', 'namespace', 'capped'])).code, 0);
  });

  test('kube-system and kube-public exist like default and cannot be deleted; create namespace as kubectl', async () => {
    const { items } = await getJson<{ items: Array<{ metadata: { name: string } }> }>(
      `${c.headUrl()}/api/v1/objects/namespaces`,
    );
    assert.deepEqual(
      items.map((n) => n.metadata.name),
      ['default', 'kube-public', 'kube-system'],
    );
    for (const name of ['kube-system', 'kube-public']) {
      const del = await api('DELETE', `/api/v1/objects/namespaces/${name}`);
      assert.equal(del.status, 400);
      assert.equal(
        del.body.error,
        `Error from server (Forbidden): namespaces "${name}" is forbidden: this namespace may not be deleted`,
      );
    }
    // The DaemonSet example of the Kubernetes docs (concepts/workloads/controllers/daemonset), as is.
    const ds = await api('POST', '/api/v1/apply', { documents: [parse(FLUENTD_DAEMONSET)] });
    assert.equal(ds.status, 200, JSON.stringify(ds.body));
    assert.equal(ds.body.items?.[0]?.text, 'daemonset.apps/fluentd-elasticsearch created');
    const dsPath = '/api/v1/objects/daemonsets/kube-system/fluentd-elasticsearch';
    assert.equal((await api('DELETE', dsPath)).status, 200);

    const created = await cli(['create', 'namespace', 'team2']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'namespace/team2 created\n');
    const again = await cli(['create', 'ns', 'team2']);
    assert.equal(again.code, 1);
    assert.equal(
      again.stderr,
      'error: Error from server (AlreadyExists): namespaces "team2" already exists\n',
    );
    const create = (name: string) =>
      api('POST', '/api/v1/apply', {
        documents: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }],
        create: true,
      });
    assert.equal(
      (await create('kube-system')).body.error,
      'Error from server (AlreadyExists): namespaces "kube-system" already exists',
    );
    assert.match(
      (await create('Team_3')).body.error ?? '',
      /metadata\.name: must be a lowercase RFC 1123 label/,
    );
    assert.equal((await api('DELETE', '/api/v1/objects/namespaces/team2')).status, 200);
    assert.deepEqual(await objectKeys(), []);
  });

  test('created, unchanged, configured; generation only on spec change; uid kept; dry run writes nothing', async () => {
    const both = `${deployment()}---\n${configMap}`;
    const dry = await cli(['apply', '-f', '-', '--dry-run'], both);
    assert.equal(dry.stdout, 'deployment.apps/web created (dry run)\nconfigmap/cfg created (dry run)\n');
    assert.deepEqual(await objectKeys(), []);
    const first = await cli(['apply', '-f', '-'], both);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, 'deployment.apps/web created\nconfigmap/cfg created\n');
    const read = () =>
      c.withEtcd((etcd) =>
        getObject(etcd, c.name, { kind: 'Deployment', namespace: 'default', name: 'web' }, false),
      );
    const created = (await read())!.object;
    assert.equal(created.metadata.generation, 1);
    assert.match(created.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.equal(created.metadata.namespace, 'default');

    const again = await cli(['apply', '-f', '-'], both);
    assert.equal(again.stdout, 'deployment.apps/web unchanged\nconfigmap/cfg unchanged\n');
    assert.equal((await read())!.modRevision, created.metadata.resourceVersion, 'unchanged writes nothing');

    const relabeled = await cli(['apply', '-f', '-'], deployment({ labels: ', team: a' }));
    assert.equal(relabeled.stdout, 'deployment.apps/web configured\n');
    assert.equal((await read())!.object.metadata.generation, 1, 'a label change does not bump generation');

    const scaled = await cli(['apply', '-f', '-'], deployment({ replicas: 1, labels: ', team: a' }));
    assert.equal(scaled.stdout, 'deployment.apps/web configured\n');
    const after = (await read())!.object as Deployment;
    assert.equal(after.metadata.generation, 2);
    assert.equal(after.spec.replicas, 1);
    assert.equal(after.metadata.uid, created.metadata.uid);
    assert.equal(after.metadata.creationTimestamp, created.metadata.creationTimestamp);
    // Back to 0 replicas: this test cluster runs no workloads.
    await cli(['apply', '-f', '-'], deployment({ labels: ', team: a' }));
  });

  test("k8s' defaults are stored; spelling a default out is unchanged; an object stored without them is kept as is", async () => {
    const bare = `apiVersion: apps/v1
kind: Deployment
metadata: {name: dflt}
spec:
  selector: {matchLabels: {app: dflt}}
  template:
    metadata: {labels: {app: dflt}}
    spec:
      containers:
        - {name: a, image: nokube-test/none:1, ports: [{containerPort: 80}]}
        - {name: b, image: nokube-test/none}
      volumes: [{name: v, configMap: {name: cfg}}]
`;
    assert.equal((await cli(['apply', '-f', '-'], bare)).stdout, 'deployment.apps/dflt created\n');
    const read = () =>
      c.withEtcd((etcd) =>
        getObject(etcd, c.name, { kind: 'Deployment', namespace: 'default', name: 'dflt' }, false),
      );
    const stored = (await read())!;
    const d = stored.object as Deployment;
    assert.deepEqual(
      [
        d.spec.replicas,
        d.spec.strategy,
        d.spec.minReadySeconds,
        d.spec.revisionHistoryLimit,
        d.spec.progressDeadlineSeconds,
      ],
      [1, { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } }, 0, 10, 600],
    );
    const spec = d.spec.template.spec;
    assert.deepEqual([spec.restartPolicy, spec.terminationGracePeriodSeconds], ['Always', 30]);
    assert.deepEqual(
      spec.containers.map((x) => x.imagePullPolicy),
      ['IfNotPresent', 'Always'],
      'a tag: IfNotPresent; none (latest): Always',
    );
    assert.equal(spec.containers[0]!.ports![0]!.protocol, 'TCP');
    assert.equal(spec.volumes![0]!.configMap!.defaultMode, 0o644);
    // The shown object applies back unchanged, and so does the manifest with the defaults spelled out.
    const shown = await cli(['get', 'deployment', 'dflt', '-o', 'yaml']);
    assert.equal((await cli(['apply', '-f', '-'], shown.stdout)).stdout, 'deployment.apps/dflt unchanged\n');
    const spelled = bare
      .replace('spec:\n  selector', 'spec:\n  replicas: 1\n  strategy: {type: RollingUpdate}\n  selector')
      .replace(
        '    spec:\n      containers',
        '    spec:\n      restartPolicy: Always\n      terminationGracePeriodSeconds: 30\n      containers',
      )
      .replace('image: nokube-test/none:1,', 'image: nokube-test/none:1, imagePullPolicy: IfNotPresent,');
    assert.notEqual(spelled, bare);
    assert.equal((await cli(['apply', '-f', '-'], spelled)).stdout, 'deployment.apps/dflt unchanged\n');
    assert.equal((await read())!.modRevision, stored.modRevision, 'unchanged writes nothing');
    // A Secret's type defaults to Opaque.
    await cli(
      ['apply', '-f', '-'],
      'apiVersion: v1\nkind: Secret\nmetadata: {name: s1}\nstringData: {k: v}\n',
    );
    const secret = await c.withEtcd((etcd) =>
      getObject(etcd, c.name, { kind: 'Secret', namespace: 'default', name: 's1' }, false),
    );
    assert.equal((secret!.object as { type?: string }).type, 'Opaque');

    // An object stored before defaulting (no defaults in etcd) is the same object: unchanged, not rewritten
    // (its pods' template hash, computed from what is stored, stays).
    const legacy = structuredClone(d);
    delete legacy.spec.strategy;
    delete legacy.spec.template.spec.restartPolicy;
    delete legacy.spec.template.spec.containers[0]!.imagePullPolicy;
    await c.withEtcd((etcd) =>
      etcd
        .put(objectKey(c.name, { kind: 'Deployment', namespace: 'default', name: 'dflt' }))
        .value(JSON.stringify(legacy))
        .exec(),
    );
    const legacyRev = (await read())!.modRevision;
    assert.equal((await cli(['apply', '-f', '-'], bare)).stdout, 'deployment.apps/dflt unchanged\n');
    assert.equal((await read())!.modRevision, legacyRev);
    // A real change writes the defaulted object.
    const changed = await cli(['apply', '-f', '-'], bare.replace('{name: b,', '{name: c,'));
    assert.equal(changed.stdout, 'deployment.apps/dflt configured\n');
    const now = (await read())!.object as Deployment;
    assert.equal(now.spec.template.spec.restartPolicy, 'Always');
    assert.equal(now.metadata.generation, legacy.metadata.generation + 1);
    await cli(['delete', 'deployment', 'dflt']);
    await cli(['delete', 'secret', 's1']);
  });

  test('concurrent applies of one object: every write lands exactly once (no lost update)', async () => {
    const results = await c.withEtcd((etcd) =>
      Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          applyManifests(
            etcd,
            c.name,
            validateManifestText(configMap.replace('hello', `v${i}`), `c${i}`),
            'test',
          ),
        ),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    for (const r of results)
      if (r.status === 'rejected') assert.ok(r.reason instanceof ObjectConflictError, String(r.reason));
    const cm = await c.withEtcd((etcd) =>
      getObject(etcd, c.name, { kind: 'ConfigMap', namespace: 'default', name: 'cfg' }, false),
    );
    assert.equal(cm!.object.metadata.generation, 1 + ok.length, 'one generation per successful apply');
    await cli(['apply', '-f', '-'], configMap);
  });

  test('get: table, wide, -A, -l, -o name/json/yaml', async () => {
    const t = await cli(['get', 'deployments']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\nweb\s+0\/0\s+0\s+0\s+\d+s\n$/);
    const wide = await cli(['get', 'deploy', '-o', 'wide']);
    assert.match(wide.stdout, /CONTAINERS\s+IMAGES\s+SELECTOR\n.*web\s+nokube-test\/none:1\s+app=web\n$/);
    const all = await cli(['get', 'cm', '-A']);
    assert.match(all.stdout, /^NAMESPACE\s+NAME\s+DATA\s+AGE\ndefault\s+cfg\s+1\s+\d+s\n$/);
    assert.equal((await cli(['get', 'cm', '-l', 'tier=conf', '-o', 'name'])).stdout, 'configmap/cfg\n');
    assert.equal(
      (await cli(['get', 'cm', '-l', 'tier!=conf'])).stderr,
      'No resources found in default namespace.\n',
    );
    const one = JSON.parse((await cli(['get', 'deployment', 'web', '-o', 'json'])).stdout);
    assert.equal(one.kind, 'Deployment');
    assert.equal(one.metadata.name, 'web');
    const list = parse((await cli(['get', 'configmaps', '-o', 'yaml'])).stdout);
    assert.equal(list.kind, 'List');
    assert.deepEqual(
      list.items.map((i: { metadata: { name: string } }) => i.metadata.name),
      ['cfg'],
    );
    const ns = await cli(['get', 'ns']);
    assert.match(ns.stdout, /^NAME\s+STATUS\s+AGE\ndefault\s+Active\s+/);
    const missing = await cli(['get', 'deployment', 'nope']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'error: Error from server (NotFound): deployments.apps "nope" not found\n');
  });

  test('describe shows the spec summary and the events', async () => {
    const log = createLogger({ test: 'apply' }, 'silent');
    await c.withEtcd(async (etcd) => {
      const rec = new EventRecorder(etcd, c.name, { component: 'deployment-controller' }, log);
      rec.normal(
        { kind: 'Deployment', namespace: 'default', name: 'web' },
        'ScalingReplicaSet',
        'Scaled up to 1',
      );
      rec.normal(
        { kind: 'Deployment', namespace: 'default', name: 'web' },
        'ScalingReplicaSet',
        'Scaled up to 1',
      );
      await rec.flush();
      rec.stop();
    });
    const r = await cli(['describe', 'deploy', 'web']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Name:\s+web\nNamespace:\s+default\nLabels:\s+app=web\n\s+team=a\n/);
    assert.match(r.stdout, /Replicas:\s+0 desired \| 0 updated/);
    assert.match(r.stdout, /Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n/);
    assert.match(
      r.stdout,
      /Normal\s+ScalingReplicaSet\s+\d+s \(x2 over \d+s\)\s+deployment-controller\s+Scaled up to 1\n/,
    );
  });

  test('secret values never appear in plain get or describe; -o yaml shows them', async () => {
    const secret = `apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: s3cr3t-pw}\n`;
    assert.equal((await cli(['apply', '-f', '-'], secret)).stdout, 'secret/db created\n');
    const b64 = Buffer.from('s3cr3t-pw').toString('base64');
    const plain = await cli(['get', 'secrets']);
    assert.match(plain.stdout, /^NAME\s+TYPE\s+DATA\s+AGE\ndb\s+Opaque\s+1\s+/);
    const described = await cli(['describe', 'secret', 'db']);
    assert.match(described.stdout, /password:\s+9 bytes/);
    const watchedList = await getJson<{ items: Array<{ data: Record<string, string> }> }>(
      `${c.headUrl()}/api/v1/objects/secrets`,
    );
    for (const out of [plain.stdout, described.stdout, JSON.stringify(watchedList)]) {
      assert.ok(!out.includes('s3cr3t') && !out.includes(b64), out);
    }
    const yaml = parse((await cli(['get', 'secret', 'db', '-o', 'yaml'])).stdout);
    assert.equal(yaml.data.password, b64);
    // Re-applying the same stringData is unchanged (folded into data the same way).
    assert.equal((await cli(['apply', '-f', '-'], secret)).stdout, 'secret/db unchanged\n');
  });

  test('a pod differing only in nodeName is unchanged; any other spec change is refused', async () => {
    const pod = `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  nodeSelector: {nowhere: "true"}\n  containers: [{name: c, image: nokube-test/none:1}]\n`;
    assert.equal((await cli(['apply', '-f', '-'], pod)).stdout, 'pod/p created\n');
    // Bind it as the scheduler would (to a node that does not exist: nothing runs it; the controller
    // then reports it lost).
    await c.withEtcd(async (etcd) => {
      const stored = (await getObject(
        etcd,
        c.name,
        { kind: 'Pod', namespace: 'default', name: 'p' },
        false,
      ))!;
      const bound = { ...stored.object, spec: { ...stored.object.spec, nodeName: 'ghost' } } as Pod;
      const { resourceVersion: _rv, ...metadata } = bound.metadata;
      await etcd
        .put(objectKey(c.name, { kind: 'Pod', namespace: 'default', name: 'p' }))
        .value(JSON.stringify({ ...bound, metadata }));
    });
    assert.equal((await cli(['apply', '-f', '-'], pod)).stdout, 'pod/p unchanged\n');
    const changed = await cli(['apply', '-f', '-'], pod.replace('none:1', 'none:2'));
    assert.equal(changed.code, 1);
    assert.match(
      changed.stderr,
      /pods "p" in namespace default: Pod spec is immutable; delete and re-create it/,
    );
    // The kubecontroller reports a pod bound to a node without a node record as lost: STATUS Unknown.
    await eventually(
      async () => {
        const wide = await cli(['get', 'pods', '-o', 'wide']);
        assert.match(
          wide.stdout,
          /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\np\s+0\/1\s+Unknown\s+0\s+\d+s\s+<none>\s+ghost\n$/,
        );
        return true;
      },
      20_000,
      'pod p shown as Unknown on node ghost',
    );
  });

  test('get -w prints the listing, then a row per change', async () => {
    const other = configMap.replace('name: cfg', 'name: other');
    assert.equal((await cli(['apply', '-f', '-'], `${configMap}---\n${other}`)).code, 0);
    const [cmd, base] = cliCommand();
    const child = spawn(cmd, [...base, 'get', 'cm', '-w'], { env: { ...process.env, ...c.env } });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    try {
      await eventually(
        () => /^NAME\s+DATA\s+AGE\ncfg\s+1\s+\S+\nother\s+1\s+/.test(out),
        15_000,
        `listing, got ${JSON.stringify(out)}`,
      );
      const r = await cli(
        ['apply', '-f', '-'],
        configMap.replace('greeting: hello', 'greeting: hello, extra: x'),
      );
      assert.equal(r.stdout, 'configmap/cfg configured\n');
      await eventually(() => /\ncfg\s+2\s+\S+\n$/.test(out), 15_000, `watch row, got ${JSON.stringify(out)}`);
      // Deleting an object the listing showed (and the watch never saw change) is a row too.
      assert.equal((await cli(['delete', 'cm', 'other'])).code, 0);
      await eventually(
        () => /\nother\s+1\s+\S+\n$/.test(out),
        15_000,
        `deletion row, got ${JSON.stringify(out)}`,
      );
    } finally {
      child.kill('SIGTERM');
    }
  });

  test('delete by name, by file, NotFound and --ignore-not-found', async () => {
    const r = await cli(['delete', 'deployment', 'web']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'deployments.apps "web" deleted\n');
    const again = await cli(['delete', 'deployment', 'web']);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'error: Error from server (NotFound): deployments.apps "web" not found\n');
    const forbidden = await cli(['delete', 'ns', 'default']);
    assert.equal(forbidden.code, 1);
    assert.equal(
      forbidden.stderr,
      'error: Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted\n',
    );
    const ignored = await cli(['delete', 'deploy', 'web', '--ignore-not-found']);
    assert.equal(ignored.code, 0, ignored.stderr);
    assert.equal(ignored.stdout, '');
    const path = await file('cm.yaml', configMap);
    assert.equal((await cli(['delete', '-f', path])).stdout, 'configmaps "cfg" deleted\n');
    await cli(['delete', 'secret', 'db']);
    await cli(['delete', 'pod', 'p']);
    assert.deepEqual(await objectKeys(), []);
    const statusKeys = await c.withEtcd((etcd) => etcd.getAll().prefix(keys.statusPrefix(c.name)).keys());
    assert.deepEqual(statusKeys, [], 'status keys go with their objects');
  });

  test('a namespace of more objects than one etcd transaction holds is deleted whole; an apply too big for one transaction is refused whole', async () => {
    const cms = (ns: string, count: number) =>
      Array.from(
        { length: count },
        (_, i) =>
          `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm${i}, namespace: ${ns}}\ndata: {k: v}\n`,
      ).join('---\n');
    const ns = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: big}\n';
    assert.equal((await cli(['apply', '-f', '-'], ns)).code, 0);
    for (const part of [0, 1])
      assert.equal(
        (await cli(['apply', '-f', '-'], cms('big', 100).replaceAll('name: cm', `name: p${part}-`))).code,
        0,
      );
    await c.withEtcd((etcd) =>
      etcd
        .put(`${keys.statusPrefix(c.name)}configmaps/big/p0-1`)
        .value('{}')
        .exec(),
    );
    assert.equal((await objectKeys()).length, 201);
    const del = await cli(['delete', 'ns', 'big']);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, 'namespaces "big" deleted\n');
    assert.deepEqual(await objectKeys(), []);
    const statusKeys = await c.withEtcd((etcd) => etcd.getAll().prefix(keys.statusPrefix(c.name)).keys());
    assert.deepEqual(statusKeys, []);

    const tooBig = await cli(['apply', '-f', '-'], cms('default', 200));
    assert.equal(tooBig.code, 1);
    assert.equal(
      tooBig.stderr,
      'error: this apply checks 200 keys and writes 200 objects in one etcd transaction, more than etcd allows (--max-txn-ops, 128 by default): apply fewer objects at a time\n',
    );
    assert.deepEqual(await objectKeys(), []);
  });

  test('immutable ConfigMap and Secret: data may not change, immutable may not be unset; metadata may', async () => {
    const apply = async (doc: Record<string, unknown>) => {
      const r = await api('POST', '/api/v1/apply', { documents: [doc] });
      return r.status === 200 ? r.body.items![0]!.text : r.body.problems!.join('\n');
    };
    const cm = (data: Record<string, string>, more: Record<string, unknown> = {}, labels = {}) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'imm', labels },
      data,
      ...more,
    });
    const forbidden = (field: string, what = 'configmaps "imm" in namespace default') =>
      `request: document 1: ${what}: ${field}: Forbidden: field is immutable when \`immutable\` is set`;
    assert.equal(await apply(cm({ a: '1' })), 'configmap/imm created');
    assert.equal(await apply(cm({ a: '1' }, { immutable: true })), 'configmap/imm configured');
    assert.equal(await apply(cm({ a: '2' }, { immutable: true })), forbidden('data'));
    assert.equal(
      await apply(cm({ a: '1' }, { binaryData: { b: 'AA==' }, immutable: true })),
      forbidden('binaryData'),
    );
    assert.equal(await apply(cm({ a: '1' })), forbidden('immutable'));
    assert.equal(await apply(cm({ a: '1' }, { immutable: false })), forbidden('immutable'));
    assert.equal(await apply(cm({ a: '1' }, { immutable: true }, { x: 'y' })), 'configmap/imm configured');
    const stored = await getJson<{ data: unknown; immutable: boolean }>(
      `${c.headUrl()}/api/v1/objects/configmaps/default/imm`,
    );
    assert.deepEqual([stored.data, stored.immutable], [{ a: '1' }, true]);

    const secret = (p: string, type?: string) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's' },
      immutable: true,
      stringData: { p },
      ...(type ? { type } : {}),
    });
    assert.equal(await apply(secret('x')), 'secret/s created');
    assert.equal(await apply(secret('x')), 'secret/s unchanged');
    assert.equal(await apply(secret('y')), forbidden('data', 'secrets "s" in namespace default'));
    assert.equal(
      await apply(secret('x', 'example.com/other')),
      'request: document 1: secrets "s" in namespace default: type: field is immutable; delete and re-create the Secret',
    );
    const cli1 = await cli(
      ['apply', '-f', '-'],
      'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {p: x}\n',
    );
    assert.equal(cli1.code, 1);
    assert.equal(
      cli1.stderr,
      `error: -: document 1: ${forbidden('immutable', 'secrets "s" in namespace default').slice('request: document 1: '.length)}\n`,
    );
    for (const path of ['configmaps/default/imm', 'secrets/default/s'])
      assert.equal((await api('DELETE', `/api/v1/objects/${path}`)).status, 200);
  });

  test('get -o yaml|json output applies back unchanged (a List for several objects)', async () => {
    const cm = (name: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: rt}\ndata: {k: v}\n`;
    const created = await cli(
      ['apply', '-f', '-'],
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: rt}\n---\n${cm('a')}---\n${cm('b')}`,
    );
    assert.equal(created.code, 0, created.stderr);
    const yaml = await cli(['get', 'cm', '-n', 'rt', '-o', 'yaml']);
    assert.match(yaml.stdout, /^apiVersion: v1\nkind: List\nitems:\n/);
    const back = await cli(['apply', '-f', '-'], yaml.stdout);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(back.stdout, 'configmap/a unchanged\nconfigmap/b unchanged\n');
    const json = await cli(['get', 'ns', 'rt', '-o', 'json']);
    assert.equal((await cli(['apply', '-f', '-'], json.stdout)).stdout, 'namespace/rt unchanged\n');
    assert.equal((await cli(['delete', 'ns', 'rt'])).code, 0);
  });

  test("a controller's pod from get -o yaml applies back unchanged; changed or new owner references are refused", async () => {
    const dep = `apiVersion: apps/v1
kind: Deployment
metadata: {name: owner}
spec:
  replicas: 1
  selector: {matchLabels: {app: owner}}
  template:
    metadata: {labels: {app: owner}}
    spec:
      containers: [{name: c, image: nokube-test/none:1}]
`;
    assert.equal((await cli(['apply', '-f', '-'], dep)).code, 0);
    const name = await eventually(
      async () => (await cli(['get', 'pods', '-l', 'app=owner', '-o', 'name'])).stdout.trim() || undefined,
      30_000,
      'the deployment pod',
    );
    const yaml = await cli(['get', name, '-o', 'yaml']);
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.match(yaml.stdout, /ownerReferences:\n {4}- apiVersion: apps\/v1\n {6}kind: Deployment/);
    const back = await cli(['apply', '-f', '-'], yaml.stdout);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(back.stdout, `${name} unchanged\n`);
    const changed = await cli(
      ['apply', '-f', '-'],
      yaml.stdout.replace(/ {6}uid: \S+/, '      uid: not-the-owner'),
    );
    assert.equal(changed.code, 1);
    assert.match(changed.stderr, /metadata\.ownerReferences: set by nokube's controllers only/);
    const fresh = await cli(['apply', '-f', '-'], yaml.stdout.replace(/name: owner-\S+/, 'name: another'));
    assert.equal(fresh.code, 1);
    assert.match(fresh.stderr, /metadata\.ownerReferences: set by nokube's controllers only/);
    assert.equal((await cli(['delete', 'deployment/owner'])).code, 0);
  });

  test("fields Kubernetes never lets change (selectors, a Job's template and completions) are refused, nothing written", async () => {
    await cli(['apply', '-f', '-'], `${deployment()}---\n${configMap}`);
    const cfg = () =>
      c.withEtcd((etcd) =>
        getObject(etcd, c.name, { kind: 'ConfigMap', namespace: 'default', name: 'cfg' }, false),
      );
    const before = (await cfg())!.modRevision;
    const moved = deployment().replaceAll('app: web}', 'app: web2}');
    const r = await cli(['apply', '-f', '-'], `${configMap.replace('hello', 'changed')}---\n${moved}`);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      'error: -: document 2: deployments.apps "web" in namespace default: spec.selector: field is immutable; delete and re-create the Deployment\n',
    );
    assert.equal((await cfg())!.modRevision, before, 'the valid document was not written either');
    await cli(['delete', 'deploy', 'web']);

    // A Job on a cluster name no controller serves: only apply's rules are exercised.
    const job = (extra: string, image = 'busybox') =>
      `apiVersion: batch/v1\nkind: Job\nmetadata: {name: once}\nspec:\n${extra}  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: once, image: ${image}}]\n`;
    const apply = (text: string) =>
      c.withEtcd((etcd) =>
        applyManifests(etcd, `${c.name}-bare`, validateManifestText(text, 'job.yaml'), 'test'),
      );
    assert.equal((await apply(job('')))[0]!.action, 'created');
    assert.equal(
      (await apply(job('  completions: 1\n')))[0]!.action,
      'unchanged',
      'completions 1 is the default: the same object, not a change of an immutable field',
    );
    assert.equal((await apply(job('  backoffLimit: 2\n')))[0]!.action, 'configured');
    await assert.rejects(apply(job('  completions: 3\n  backoffLimit: 2\n', 'alpine')), (err: Error) => {
      assert.ok(err instanceof ApplyError);
      assert.deepEqual(err.problems, [
        'job.yaml: document 1: jobs.batch "once" in namespace default: spec.template: field is immutable; delete and re-create the Job',
        'job.yaml: document 1: jobs.batch "once" in namespace default: spec.completions: field is immutable; delete and re-create the Job',
      ]);
      return true;
    });
  });
});
