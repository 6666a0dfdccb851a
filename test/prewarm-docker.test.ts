// Image prewarm tasks on real Docker (issue 19 item 1): four netns hosts, each with its own Docker engine
// and agent (h0 and h1 heads), a real etcd, and Debian's docker-registry on the hosts' gateway as the
// upstream. A host is cut off from the registry by an nftables rule in its namespace (reject: pulls fail at
// once; drop: pulls hang). Every change of the image pull requests is recorded from an etcd watch (each
// revision, in order) to check that a batch starts only after the one before it is done; the engines are
// asked which images they hold. Images from peers are off here (images.peers: false): a node cut off from
// the registry would get them from a peer (test/image-peers-docker.test.ts).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import type { Etcd3, Watcher } from 'etcd3';
import type { NodeStatus } from '../agent/images/pull-requests.ts';
import { statusKey } from '../agent/objects/store.ts';
import type { ImagePrewarm } from '../agent/objects/types.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import type { TaskView } from '../head/prewarm/task-view.ts';
import {
  createTestCluster,
  eventually,
  runCli,
  startAgentsReady,
  type TestCluster,
} from './harness/cluster.ts';
import {
  ensureBusyboxImage,
  pushImage,
  requireDocker,
  startRegistry,
  type TestRegistry,
} from './harness/docker.ts';
import { startTestHosts, type TestHosts } from './harness/hosts.ts';

const run = promisify(execFile);
const NODES = ['h0', 'h1', 'h2', 'h3'];
const BLOCK_TABLE = 'nkpwblock';

describe('image prewarm on 4 hosts, each with its own Docker engine', { timeout: 600_000 }, () => {
  let hosts: TestHosts;
  let c: TestCluster;
  let etcd: Etcd3;
  let registry: TestRegistry;
  let machine: Docker;
  let local: string;
  const engines = new Map<string, Docker>();
  /** Every put and delete of an image pull request, in revision order: `put h2` / `delete h0`. */
  const requestLog: string[] = [];
  let watcher: Watcher;

  const cli = (args: string[]) => runCli(args, c.env);
  const ok = async (args: string[]) => {
    const r = await cli(args);
    assert.equal(r.code, 0, `nokube ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const task = async (id: string) => JSON.parse(await ok(['prewarm', 'get', id, '-o', 'json'])) as TaskView;
  const stored = async (name: string) => {
    const v = await etcd
      .get(statusKey(c.name, { kind: 'ImagePrewarm', namespace: 'default', name }))
      .string();
    return v ? (JSON.parse(v) as NonNullable<ImagePrewarm['status']>) : undefined;
  };
  /** The registry as the hosts reach it. */
  const upstream = () => `${hosts.gateway}:${registry.host.split(':')[1]}`;
  /** An image of the test, pushed to the registry under its own name (no engine holds it yet), named as
   * the hosts pull it. */
  const image = async (name: string) => {
    await pushImage(machine, local, registry.host, `${name}:1`);
    return `${upstream()}/${name}:1`;
  };
  const holds = async (node: string, ref: string) =>
    engines
      .get(node)!
      .getImage(ref)
      .inspect()
      .then(
        () => true,
        () => false,
      );
  const inHost = (node: string, args: string[]) =>
    run('ip', ['netns', 'exec', hosts.hosts.find((h) => h.name === node)!.netns, ...args]);
  /** `reject`: the host's engine is refused at once; `drop`: its packets to the registry vanish. */
  const block = async (node: string, how: 'reject' | 'drop') => {
    const [address, port] = upstream().split(':');
    const verdict = how === 'reject' ? 'reject with tcp reset' : 'drop';
    await inHost(node, [
      'nft',
      `add table ip ${BLOCK_TABLE}; add chain ip ${BLOCK_TABLE} out { type filter hook output priority 0; }; flush chain ip ${BLOCK_TABLE} out; add rule ip ${BLOCK_TABLE} out ip daddr ${address} tcp dport ${port} ${verdict}`,
    ]);
  };
  const unblock = (node: string) =>
    inHost(node, ['nft', `delete table ip ${BLOCK_TABLE}`]).catch(() => undefined);
  const nodeStatus = async (node: string) => {
    const v = await etcd.get(keys.nodeStatus(c.name, node)).string();
    return v ? (JSON.parse(v) as NodeStatus) : undefined;
  };
  const leader = async () => {
    const v = await etcd.get(keys.alive(c.name, '_cluster', 'kubecontroller')).string();
    return v ? (JSON.parse(v) as { node: string }).node : undefined;
  };

  before(async () => {
    machine = await requireDocker();
    local = await ensureBusyboxImage();
    hosts = await startTestHosts(NODES.length, { sshd: false, docker: true });
    registry = await startRegistry({ everywhere: true });
    for (const h of hosts.hosts) engines.set(h.name, new Docker({ socketPath: h.dockerSocket! }));
    c = await createTestCluster({
      nodes: hosts.hosts.map((h, i) => ({
        name: h.name,
        address: h.address,
        roles: i < 2 ? ['head', 'worker'] : ['worker'],
        dockerSocket: h.dockerSocket!,
      })),
      etcdHost: hosts.gateway,
      wrap: (node) => ['ip', 'netns', 'exec', hosts.hosts.find((h) => h.name === node)!.netns],
      namePrefix: 'pw',
      // The task's mechanics, with nodes that cannot pull: no peer would stand in for the registry.
      sections: 'images:\n  peers: false\n',
    });
    await startAgentsReady(c);
    etcd = await connectEtcd({ endpoints: [c.etcd.url], dialTimeoutMs: 3000 });
    watcher = await etcd.watch().prefix(keys.imagePullsPrefix(c.name)).create();
    const node = (key: Buffer) =>
      key.toString('utf8').slice(keys.imagePullsPrefix(c.name).length).split('/')[0];
    watcher.on('put', (kv) => requestLog.push(`put ${node(kv.key)}`));
    watcher.on('delete', (kv) => requestLog.push(`delete ${node(kv.key)}`));
  });
  after(async () => {
    await watcher?.cancel();
    etcd?.close();
    await c?.stop();
    await registry?.stop();
    await hosts?.stop();
  });

  test('2 images on 4 nodes in batches of 2, one node refused by the registry: maxFailureRatio 0.25 met', async () => {
    const [a, b] = [await image('pw-a'), await image('pw-b')];
    await block('h3', 'reject');
    requestLog.length = 0;
    const out = await ok([
      'prewarm',
      'create',
      '--name',
      'met',
      '--image',
      a,
      '--image',
      b,
      '--batch-size',
      '2',
      '--retries',
      '0',
      '--max-failure-ratio',
      '0.25',
      '--wait',
      '--timeout',
      '2m',
    ]);
    assert.match(out, /imageprewarm.nokube.io\/met created/);
    assert.match(out, /failed: h3 /, 'wait names the failed node');
    const t = await task('met');
    assert.equal(t.status, 'completed');
    assert.deepEqual(t.progress, {
      totalNodes: 4,
      completedNodes: 3,
      failedNodes: 1,
      currentBatch: 2,
      totalBatches: 2,
      percentage: 100,
    });
    assert.deepEqual(
      t.failedNodeDetails?.map((f) => [f.nodeName, f.reason]),
      [['h3', 'PullFailed']],
    );
    assert.match(t.failedNodeDetails![0]!.message, /Failed to pull image/);
    for (const n of ['h0', 'h1', 'h2'])
      for (const ref of [a, b]) assert.ok(await holds(n, ref), `${n} holds ${ref}`);
    assert.equal(await holds('h3', a), false);
    // Batch 2 (h2, h3) was asked only after h0 and h1 were done (their requests removed as they finished).
    const at = (entry: string) => requestLog.indexOf(entry);
    assert.ok(at('put h2') > at('delete h0') && at('put h2') > at('delete h1'), requestLog.join(', '));
    assert.ok(at('put h3') > at('delete h0') && at('put h3') > at('delete h1'), requestLog.join(', '));
    assert.deepEqual(
      (await etcd.getAll().prefix(keys.imagePullsPrefix(c.name)).keys()).length,
      0,
      'no request left',
    );
    // Metrics: the leading head's task gauges, each agent's pulls.
    const heads = await Promise.all(
      ['h0', 'h1'].map((n) =>
        fetch(`http://${c.nodes.find((x) => x.name === n)!.address}:${c.headPort}/metrics`).then((r) =>
          r.text(),
        ),
      ),
    );
    const lead = heads.find((t) => /^nokube_prewarm_tasks\{/m.test(t));
    assert.ok(lead, 'the leader shows the prewarm gauges');
    assert.match(lead, /^nokube_prewarm_task_nodes\{(?=[^}]*task="met")(?=[^}]*result="failed")[^}]*\} 1$/m);
    assert.match(lead, /^nokube_prewarm_tasks\{(?=[^}]*phase="Completed")[^}]*\} 1$/m);
    const pulls = async (node: string) => (await fetch(`${c.agentUrl(node)}/metrics`)).text();
    const escaped = a.replace(/[.]/g, '\\.');
    assert.match(
      await pulls('h0'),
      new RegExp(
        `^nokube_image_pulls_total\\{(?=[^}]*image="${escaped}")(?=[^}]*result="pulled")[^}]*\\} 1$`,
        'm',
      ),
    );
    assert.match(await pulls('h3'), /^nokube_image_pulls_total\{(?=[^}]*result="failed")[^}]*\} [1-9]/m);
    const list = JSON.parse(await ok(['prewarm', 'list', '--status', 'completed', '-o', 'json'])) as {
      items: TaskView[];
      total: number;
    };
    assert.deepEqual(
      list.items.map((i) => i.taskId),
      ['met'],
    );
  });

  test('over maxFailureRatio (0.2): the task fails, wait exits 1', async () => {
    const img = await image('pw-c');
    const r = await cli([
      'prewarm',
      'create',
      '--name',
      'over',
      '--image',
      img,
      '--batch-size',
      '2',
      '--retries',
      '0',
      '--max-failure-ratio',
      '0.2',
      '--wait',
      '--timeout',
      '2m',
    ]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /prewarm task over failed: 1 of 4 node\(s\) failed, more than maxFailureRatio 0.2/,
    );
    assert.equal((await task('over')).status, 'failed');
    const page = JSON.parse(await ok(['prewarm', 'list', '--limit', '1', '-o', 'json'])) as {
      items: TaskView[];
      total: number;
    };
    assert.deepEqual([page.items.map((i) => i.taskId), page.total], [['over'], 2], 'newest first, paged');
  });

  test('retries: a node that failed once pulls on its next attempt once the registry takes it again', async () => {
    const img = await image('pw-d');
    await ok(['prewarm', 'create', '--name', 'retry', '--image', img, '--batch-size', '4', '--retries', '1']);
    await eventually(
      async () => (await stored('retry'))?.batch?.h3?.attempts === 1,
      60_000,
      "h3's first attempt failed",
    );
    await unblock('h3');
    await ok(['prewarm', 'wait', 'retry', '--timeout', '2m']);
    const t = await task('retry');
    assert.deepEqual([t.status, t.progress?.completedNodes, t.progress?.failedNodes], ['completed', 4, 0]);
    assert.ok(await holds('h3', img));
  });

  test('cancel in the middle: the pull in flight stops, the task is cancelled', async () => {
    const img = await image('pw-e');
    await block('h3', 'drop');
    await ok(['prewarm', 'create', '--name', 'stop', '--image', img, '--batch-size', '4']);
    await eventually(
      async () => (await nodeStatus('h3'))?.pulls.some((p) => p.image === img && p.state === 'Pulling'),
      30_000,
      "h3's pull under way",
    );
    const out = await ok(['prewarm', 'cancel', 'stop']);
    assert.match(out, /cancel requested/);
    await eventually(async () => (await task('stop')).status === 'cancelled', 20_000, 'cancelled');
    await eventually(
      async () => !(await nodeStatus('h3'))?.pulls.some((p) => p.image === img),
      20_000,
      "h3's agent to stop the pull",
    );
    await eventually(
      () => c.agents.get('h3')!.output().includes('image pull stopped: no request asks for it any more'),
      10_000,
      "h3's agent to say it stopped the engine's pull",
    );
    const again = await cli(['prewarm', 'cancel', 'stop']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is cancelled: nothing to cancel/);
    await unblock('h3');
    assert.equal(await holds('h3', img), false, 'the stopped pull left no image');
  });

  test('pull timeout: a node whose pull does not finish in time fails with PullTimeout', async () => {
    const img = await image('pw-f');
    await block('h2', 'drop');
    const r = await cli([
      'prewarm',
      'create',
      '--name',
      'slow',
      '--image',
      img,
      '--batch-size',
      '4',
      '--retries',
      '0',
      '--pull-timeout',
      '3s',
      '--max-failure-ratio',
      '0.25',
      '--wait',
      '--timeout',
      '1m',
    ]);
    await unblock('h2');
    assert.equal(r.code, 0, r.stderr);
    const t = await task('slow');
    assert.deepEqual(
      t.failedNodeDetails?.map((f) => [f.nodeName, f.reason]),
      [['h2', 'PullTimeout']],
    );
  });

  test('the leading head killed mid-task: the other head goes on from the status in etcd', async () => {
    const img = await image('pw-g');
    await block('h2', 'drop');
    await ok([
      'prewarm',
      'create',
      '--name',
      'failover',
      '--image',
      img,
      '--batch-size',
      '1',
      '--pull-timeout',
      '5m',
    ]);
    // Batches h0, h1, then h2 hangs.
    await eventually(
      async () => (await stored('failover'))?.progress?.currentBatch === 3,
      60_000,
      'batch 3 under way',
    );
    const was = (await leader())!;
    await c.agents.get(was)!.kill('SIGKILL');
    const other = was === 'h0' ? 'h1' : 'h0';
    await eventually(async () => (await leader()) === other, 30_000, `${other} to lead`);
    await unblock('h2');
    // The CLI finds the live head itself.
    await ok(['prewarm', 'wait', 'failover', '--timeout', '3m']);
    const t = await task('failover');
    assert.equal(t.status, 'completed');
    // h0 and h1 were done before the failover, h2 and h3 after it.
    assert.deepEqual([t.progress?.completedNodes, t.progress?.failedNodes], [4, 0]);
    await c.startAgent(was);
  });

  test("a private registry: without the task's imagePullSecrets every node is refused; with them every node pulls", async () => {
    const auth = { username: 'warm', password: 'Pw-of-the-registry-3' };
    const priv = await startRegistry({ everywhere: true, auth });
    try {
      await pushImage(machine, local, priv.host, 'pw-private:1', auth);
      const ref = `${hosts.gateway}:${priv.host.split(':')[1]}/pw-private:1`;
      const server = ref.split('/')[0]!;
      await ok(
        ['create', 'secret', 'docker-registry', 'privreg', '--docker-server', server].concat([
          '--docker-username',
          auth.username,
          '--docker-password',
          auth.password,
        ]),
      );
      await cli([
        'prewarm',
        'create',
        '--name',
        'nocreds',
        '--image',
        ref,
        '--batch-size',
        '4',
        '--retries',
        '0',
      ]);
      assert.equal((await cli(['prewarm', 'wait', 'nocreds', '--timeout', '2m'])).code, 1);
      const refused = await task('nocreds');
      assert.equal(refused.status, 'failed');
      assert.match(JSON.stringify(refused), /no basic auth credentials|unauthorized/);
      await ok(
        ['prewarm', 'create', '--name', 'creds', '--image', ref, '--batch-size', '4'].concat([
          '--image-pull-secret',
          'privreg',
        ]),
      );
      await ok(['prewarm', 'wait', 'creds', '--timeout', '2m']);
      const t = await task('creds');
      assert.equal(t.status, 'completed');
      assert.equal(t.progress?.failedNodes, 0);
      for (const node of (await stored('creds'))?.nodes ?? [])
        assert.ok(await holds(node, ref), `${node} holds it`);
      assert.ok(!JSON.stringify([refused, t]).includes(auth.password), 'no password in a task');
    } finally {
      await priv.stop();
    }
  });
});
