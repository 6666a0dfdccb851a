// The rollout commands (issue 16 item 7) as a user runs them: `nokube apply`, `set image`, `scale`,
// `rollout status|history|undo|pause|resume|restart|promote`, `get rs`, against one head (a real agent process)
// and real etcd. The pods go to node records the test wrote (the template's nodeSelector picks them) and
// are "run" by simulated agents (harness/fake-agents.ts), so no container is needed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import type { Deployment } from '../agent/objects/types.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import {
  cliCommand,
  clusterCli,
  createTestCluster,
  eventually,
  runCli,
  type TestCluster,
} from './harness/cluster.ts';
import { FakeAgents, isLive, putFakeNodes } from './harness/fake-agents.ts';

const FAKE = ['f1', 'f2'];

const manifest = (name: string, image: string, extra = '') => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  annotations: {kubernetes.io/change-cause: "first ${image}"}
spec:
  replicas: 2
  selector: {matchLabels: {app: ${name}}}
${extra}  template:
    metadata: {labels: {app: ${name}}}
    spec:
      nodeSelector: {fake: "yes"}
      containers: [{name: main, image: "${image}"}]
`;

describe('rollout commands against a head', { timeout: 300_000 }, () => {
  let c: TestCluster;
  let etcd: Etcd3;
  let agents: FakeAgents;
  const { cli, ok } = clusterCli(() => c);
  const getDeployment = async (name: string) =>
    JSON.parse(await ok(['get', 'deployment', name, '-o', 'json'])) as Deployment;
  const images = (name: string) =>
    [...agents.pods.values()]
      .filter((p) => p.object.metadata.ownerReferences?.[0]?.name === name && isLive(p))
      .map((p) => p.object.spec.containers[0]!.image)
      .sort();

  before(async () => {
    c = await createTestCluster({ nodes: 1, net: 76 });
    etcd = await connectEtcd({ endpoints: [c.etcd.url], dialTimeoutMs: 3000 });
    await putFakeNodes(etcd, c.name, FAKE, { fake: 'yes' });
    agents = new FakeAgents(etcd, c.name, new Set(FAKE));
    await agents.start();
    await c.startAgent('n1');
    await eventually(
      () => etcd.get(keys.alive(c.name, '_cluster', 'kubecontroller')).string(),
      30_000,
      'a leader',
    );
    await eventually(async () => (await cli(['get', 'pods'])).code === 0, 30_000, 'the head API');
  });
  after(async () => {
    await agents?.stop();
    etcd?.close();
    await c?.stop();
  });

  test('set image, rollout status, get rs, history, undo --to-revision (the template exactly), scale', async () => {
    await ok(['apply', '-f', '-'], manifest('web', 'app:v1'));
    assert.match(
      await ok(['rollout', 'status', 'deployment/web', '--timeout', '60s']),
      /deployment "web" successfully rolled out\n$/,
    );
    const first = await getDeployment('web');

    assert.equal(
      await ok(['set', 'image', 'deployment/web', 'main=app:v2']),
      'deployment.apps/web image updated\n',
    );
    assert.match(
      await ok(['rollout', 'status', 'deployment', 'web', '--timeout', '60s']),
      /successfully rolled out/,
    );
    await eventually(() => images('web').join() === 'app:v2,app:v2', 10_000, 'two pods of app:v2');
    const missing = await cli(['set', 'image', 'deployment/web', 'nope=app:v3']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /unable to find container named "nope"/);

    const rs = await ok(['get', 'rs']);
    const lines = rs.trim().split('\n');
    assert.match(lines[0]!, /^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE$/);
    assert.equal(lines.length, 3, rs);
    assert.ok(
      lines.some((l) => /^web-\w+\s+2\s+2\s+2\s/.test(l)),
      rs,
    );
    assert.ok(
      lines.some((l) => /^web-\w+\s+0\s+0\s+0\s/.test(l)),
      rs,
    );

    const history = await ok(['rollout', 'history', 'deployment/web']);
    assert.match(
      history,
      /^deployment\.apps\/web \nREVISION\s+CHANGE-CAUSE\n1\s+first app:v1\n2\s+first app:v1\n\n$/,
    );
    assert.match(
      await ok(['rollout', 'history', 'deployment/web', '--revision', '1']),
      /with revision #1\nPod Template:\n[\s\S]*image: app:v1/,
    );

    assert.equal(
      await ok(['rollout', 'undo', 'deployment/web', '--to-revision', '1']),
      'deployment.apps/web rolled back\n',
    );
    await ok(['rollout', 'status', 'deployment/web', '--timeout', '60s']);
    const back = await getDeployment('web');
    assert.deepEqual(back.spec.template, first.spec.template, 'the template of revision 1, exactly');
    await eventually(() => images('web').join() === 'app:v1,app:v1', 10_000, 'two pods of app:v1');
    assert.match(
      await ok(['rollout', 'history', 'deployment/web']),
      /\n2\s+first app:v1\n3\s+first app:v1\n\n$/,
    );
    assert.match(
      await ok(['rollout', 'undo', 'deployment/web', '--to-revision', '3']),
      /skipped rollback \(current template already matches revision 3\)/,
    );
    const none = await cli(['rollout', 'undo', 'deployment/web', '--to-revision', '9']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /unable to find specified revision 9 in history/);
    const promote = await cli(['rollout', 'promote', 'deployment/web']);
    assert.equal(promote.code, 1, 'nothing to promote without canaries');
    assert.match(
      promote.stderr,
      /deployments.apps "web" has no canary step \(annotation nokube.io\/canary\)/,
    );

    assert.equal(await ok(['scale', 'deployment/web', '--replicas', '3']), 'deployment.apps/web scaled\n');
    await ok(['rollout', 'status', 'deployment/web', '--timeout', '60s']);
    await eventually(() => images('web').join() === 'app:v1,app:v1,app:v1', 10_000, 'three pods of app:v1');
    // Without --to-revision: the revision before the newest (2, app:v2), as kubectl.
    assert.equal(await ok(['rollout', 'undo', 'deployment', 'web']), 'deployment.apps/web rolled back\n');
    await ok(['rollout', 'status', 'deployment/web', '--timeout', '60s']);
    await eventually(() => images('web').join() === 'app:v2,app:v2,app:v2', 10_000, 'three pods of app:v2');
    assert.match(
      await ok(['rollout', 'history', 'deployment/web']),
      /\n3\s+first app:v1\n4\s+first app:v1\n\n$/,
    );
  });

  test('pause, resume and restart: refused where kubectl refuses; a restart is a new revision', async () => {
    await ok(['apply', '-f', '-'], manifest('api', 'app:v1'));
    await ok(['rollout', 'status', 'deployment/api', '--timeout', '60s']);
    assert.equal(await ok(['rollout', 'pause', 'deployment/api']), 'deployment.apps/api paused\n');
    const again = await cli(['rollout', 'pause', 'deployment/api']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /deployments\.apps "api" is already paused/);
    const restart = await cli(['rollout', 'restart', 'deployment/api']);
    assert.match(restart.stderr, /can't restart paused deployment \(run rollout resume first\)/);
    assert.equal(await ok(['rollout', 'resume', 'deployment/api']), 'deployment.apps/api resumed\n');
    const pods = () =>
      [...agents.pods.values()]
        .filter((p) => p.object.metadata.ownerReferences?.[0]?.name === 'api' && isLive(p))
        .map((p) => p.object.metadata.uid);
    const before = new Set(pods());
    assert.equal(await ok(['rollout', 'restart', 'deployment/api']), 'deployment.apps/api restarted\n');
    await ok(['rollout', 'status', 'deployment/api', '--timeout', '60s']);
    await eventually(
      () => pods().length === 2 && pods().every((u) => !before.has(u)),
      20_000,
      'every pod replaced',
    );
    const d = await getDeployment('api');
    assert.ok(d.spec.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']);
    assert.match(await ok(['rollout', 'history', 'deployment/api']), /\n2\s+/);
  });

  test('rollout status exits 1 when the progress deadline passes (readiness never comes)', async () => {
    agents.neverReady.add('app:broken');
    await ok(['apply', '-f', '-'], manifest('bad', 'app:v1', '  progressDeadlineSeconds: 3\n'));
    await ok(['rollout', 'status', 'deployment/bad', '--timeout', '60s']);
    // Paused, the update waits and so does its deadline: `rollout status` is seen waiting before the
    // deadline can run (however long the CLI takes to start), then resume lets the deadline pass.
    await ok(['rollout', 'pause', 'deployment/bad']);
    await ok(['set', 'image', 'deployment/bad', '*=app:broken']);
    const [cmd, base] = cliCommand();
    const status = spawn(cmd, [...base, 'rollout', 'status', 'deployment/bad', '--timeout', '60s'], {
      env: { ...process.env, ...c.env },
    });
    let stdout = '';
    let stderr = '';
    status.stdout.on('data', (d) => {
      stdout += d;
    });
    status.stderr.on('data', (d) => {
      stderr += d;
    });
    const code = new Promise<number | null>((resolve) => status.once('exit', resolve));
    try {
      await eventually(
        () => /Waiting for deployment "bad" rollout to finish/.test(stdout),
        30_000,
        `rollout status waiting, got ${JSON.stringify(stdout + stderr)}`,
      );
      await ok(['rollout', 'resume', 'deployment/bad']);
      assert.equal(await code, 1, stdout + stderr);
    } finally {
      status.kill('SIGTERM');
    }
    assert.match(stderr, /^error: deployment "bad" exceeded its progress deadline\n$/);
    const t = await cli(['rollout', 'status', 'deployment/web', '--timeout', '1s']);
    assert.equal(t.code, 0, 'a finished rollout needs no waiting');
  });
  // Last: it turns ACL on for the rest of this cluster's life.
  test('with ACL on, the writes need update on deployments: readonly is refused (403, nothing written), deployer may', async () => {
    await ok(['apply', '-f', '-'], manifest('guarded', 'app:v1'));
    const boot = await ok(['acl', 'bootstrap']);
    const admin = /Secret ID:\s+(\S+)/.exec(boot)![1]!;
    const as = (token: string, args: string[]) => runCli(args, { ...c.env, NOKUBE_TOKEN: token });
    assert.equal((await as(admin, ['config', 'set', 'acl.enabled', 'true'])).code, 0);
    await eventually(async () => (await cli(['get', 'deployments'])).code !== 0, 15_000, 'ACL on');
    const token = async (policy: string) => {
      const r = await as(admin, [
        'acl',
        'token',
        'create',
        '--name',
        policy,
        '--policy',
        policy,
        '-o',
        'json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { secret: string }).secret;
    };
    const [ro, ci] = [await token('readonly'), await token('deployer')];
    const before = await getDeploymentAs(admin, 'guarded');
    const refused = await as(ro, ['scale', 'deployment/guarded', '--replicas', '1']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /may not (create|update) deployments in namespace "default"/);
    const pause = await as(ro, ['rollout', 'pause', 'deployment/guarded']);
    assert.match(pause.stderr, /may not (create|update) deployments/);
    assert.equal(
      (await getDeploymentAs(admin, 'guarded')).metadata.resourceVersion,
      before.metadata.resourceVersion,
    );
    const history = await as(ci, ['rollout', 'history', 'deployment/guarded']);
    assert.equal(history.code, 0, history.stderr);
    const scaled = await as(ci, ['scale', 'deployment/guarded', '--replicas', '3']);
    assert.equal(scaled.code, 0, scaled.stderr);
    assert.equal((await getDeploymentAs(admin, 'guarded')).spec.replicas, 3);

    async function getDeploymentAs(t: string, name: string) {
      const r = await as(t, ['get', 'deployment', name, '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Deployment;
    }
  });
});
