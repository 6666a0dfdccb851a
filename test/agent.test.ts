// The agent process: fail-fast start-up errors, live config, the head API, and edge autonomy when etcd drops.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import type { Member } from '../agent/mesh/member-table.ts';
import { storeConfig } from '../agent/store/config-store.ts';
import { keys } from '../agent/store/keys.ts';
import { listNodes, type NodeRecord } from '../agent/store/node-registry.ts';
import { createTestCluster, eventually, getJson, runCli, type TestCluster } from './harness/cluster.ts';
import { freePort } from './harness/ports.ts';

const oneLineError = (out: string) => {
  const errors = out.split('\n').filter((l) => l.startsWith('error: '));
  assert.equal(errors.length, 1, out);
  return errors[0]!;
};

describe('agent start-up refusals', { timeout: 180_000 }, () => {
  let c: TestCluster;
  before(async () => {
    c = await createTestCluster({ nodes: 2, net: 33 });
  });
  after(async () => c.stop());

  test('first start with etcd unreachable and nothing cached fails fast', async () => {
    const port = await freePort();
    const r = await runCli([
      'agent',
      '--config',
      `etcd://127.0.0.1:${port}/${c.name}`,
      '--node',
      'n1',
      '--workspace',
      `${c.dir}/nothing`,
    ]);
    assert.equal(r.code, 1);
    assert.match(
      oneLineError(r.stderr),
      new RegExp(`etcd unreachable at http://127.0.0.1:${port}.*no cached config to start from`),
    );
  });

  test('a node that is not in the config is refused, naming the nodes', async () => {
    const r = await runCli(['agent', '--config', c.configFile, '--node', 'ghost']);
    assert.equal(r.code, 1);
    assert.match(oneLineError(r.stderr), /node "ghost" is not in the cluster config .*nodes are: n1, n2/);
  });

  test('`head` on a worker-only node is refused', async () => {
    const r = await runCli(['head', '--config', c.configFile, '--node', 'n2']);
    assert.equal(r.code, 1);
    assert.match(oneLineError(r.stderr), /node "n2" has no head role/);
  });

  test('a cluster with no stored config is refused with the command to fix it', async () => {
    const r = await runCli(['agent', '--config', `etcd://${c.etcd.url.slice(7)}/nothere`, '--node', 'n1']);
    assert.equal(r.code, 1);
    assert.match(oneLineError(r.stderr), /cluster "nothere" has no config in etcd .*nokube new-or-update/);
  });

  for (const which of ['mesh', 'head'] as const) {
    test(`a ${which} port in use is one clear line`, async () => {
      const port = which === 'mesh' ? c.meshPort : c.headPort;
      const blocker: Server = createServer();
      await new Promise<void>((r) => blocker.listen(port, c.nodes[0]!.address, () => r()));
      try {
        const r = await runCli(['agent', '--config', c.configFile, '--node', 'n1']);
        assert.equal(r.code, 1);
        assert.match(
          oneLineError(r.stderr),
          new RegExp(`${which} port ${port} on ${c.nodes[0]!.address} is in use \\(${which}.port\\)`),
        );
        // The head API is a part, started after the record was written: a start that failed there
        // withdraws it (the lease revoked), leaving no record of a node that never ran.
        assert.deepEqual(
          (await c.withEtcd((etcd) => listNodes(etcd, c.name))).map((n) => n.name),
          [],
        );
      } finally {
        await new Promise((r) => blocker.close(r));
      }
    });
  }
});

describe('agent and head at work', { timeout: 120_000 }, () => {
  let c: TestCluster;
  const records = () => c.withEtcd((etcd) => listNodes(etcd, c.name));
  const record = async (name: string): Promise<NodeRecord | undefined> =>
    (await records()).find((r) => r.name === name);
  const members = async () => (await getJson<{ items: Member[] }>(`${c.headUrl()}/api/v1/members`)).items;

  before(async () => {
    c = await createTestCluster({ nodes: 2, net: 34 });
    await c.startAgent('n1');
    // Registered before its parts start; a head's record names its API once that listens.
    await eventually(async () => (await record('n1'))?.api, 20_000, 'n1 registered, its API listening');
  });
  after(async () => c.stop());

  test('the node record carries address, roles, capacity and the head API', async () => {
    const r = (await record('n1'))!;
    assert.equal(r.address, c.nodes[0]!.address);
    assert.deepEqual(r.roles, ['head', 'worker']);
    assert.ok(r.capacity.cpus >= 1);
    assert.ok(r.capacity.memoryBytes > 0);
    assert.ok(r.capacity.os.kernel.length > 0);
    assert.equal(r.api, c.headUrl());
    assert.ok(r.multiaddrs[0]!.includes(r.peerId));
  });

  test('its node record deleted while its lease lives: the agent puts it back (same incarnation)', async () => {
    const before = (await record('n1'))!;
    await c.withEtcd((etcd) => etcd.delete().key(keys.node(c.name, 'n1')).exec());
    const back = await eventually(() => record('n1'), 20_000, 'n1 record back');
    assert.equal(back.incarnation, before.incarnation);
    assert.equal(back.peerId, before.peerId);
  });

  test('head API: healthz, readyz, metrics, config, nodes', async () => {
    assert.equal(await (await fetch(`${c.headUrl()}/healthz`)).text(), 'ok\n');
    assert.deepEqual(await getJson(`${c.headUrl()}/readyz`), { ready: true });
    const metrics = await (await fetch(`${c.headUrl()}/metrics`)).text();
    assert.match(
      metrics,
      new RegExp(`nokube_mesh_members\\{state="alive",cluster="${c.name}",node="n1"\\} 1`),
    );
    assert.match(metrics, /nokube_event_loop_lag_seconds\{quantile="0.99"/);
    assert.match(metrics, /nokube_etcd_registered\{[^}]*\} 1/);
    const cfg = await getJson<{ version: number; text: string }>(`${c.headUrl()}/api/v1/config`);
    assert.equal(cfg.version, 1);
    assert.equal(cfg.text, c.configYaml());
    const nodes = await getJson<{ items: Array<{ name: string; status: string }> }>(
      `${c.headUrl()}/api/v1/nodes`,
    );
    assert.deepEqual(
      nodes.items.map((n) => [n.name, n.status]),
      [
        ['n1', 'Ready'],
        ['n2', 'NotReady'],
      ],
    );
    assert.equal((await fetch(`${c.headUrl()}/api/v1/nope`)).status, 404);
  });

  test('the WebSocket stream starts with a snapshot and reports a joining member', async () => {
    const ws = new WebSocket(`ws://${c.headUrl().slice(7)}/api/v1/watch`);
    const messages: Array<{ kind: string; type?: string; member?: Member }> = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d))));
    await new Promise((r) => ws.once('open', r));
    await c.startAgent('n2');
    try {
      await eventually(
        () => messages.some((m) => m.kind === 'member' && m.type === 'join' && m.member?.name === 'n2'),
        20_000,
        'a join event for n2',
      );
      assert.equal(messages[0]!.kind, 'snapshot');
      await eventually(
        () => messages.some((m) => m.kind === 'node' && m.type === 'put'),
        20_000,
        'a node event',
      );
    } finally {
      ws.close();
    }
  });

  test('members and get nodes print the cluster', async () => {
    await eventually(() => record('n2'), 20_000, 'n2 registered');
    const m = await runCli(['members'], c.env);
    assert.equal(m.code, 0, m.stderr);
    assert.match(m.stdout, /^NAME\s+STATE\s+ADDRESS\s+ROLES\s+LAST SEEN\s+SINCE\n/);
    assert.match(m.stdout, /n1 \(observer\)\s+alive/);
    assert.match(m.stdout, /\nn2\s+alive\s+127\.34\.0\.3\s+worker/);
    const g = await runCli(['get', 'nodes', '-o', 'wide'], c.env);
    assert.match(g.stdout, /\nn2\s+Ready\s+worker\s+\d+s\s+0\.1\.0\s+127\.34\.0\.3/);
  });

  test('a label edited in etcd reaches the running agent without a restart', async () => {
    const pid = c.agents.get('n2')!.process.pid;
    const r = await runCli(['config', 'set', 'nodes.n2.labels.zone', 'edge'], c.env);
    assert.equal(r.code, 0, r.stderr);
    await eventually(
      async () => (await record('n2'))?.labels.zone === 'edge',
      10_000,
      'n2 record to carry zone=edge',
    );
    await eventually(
      async () => (await members()).find((m) => m.name === 'n2')?.labels.zone === 'edge',
      10_000,
      'mesh to carry the label',
    );
    assert.equal(c.agents.get('n2')!.process.pid, pid);
    assert.equal(c.agents.get('n2')!.process.exitCode, null);
  });

  test('an invalid config written behind our back is ignored by agents', async () => {
    await c.withEtcd(async (etcd) => etcd.put(`/nokube/${c.name}/config`).value('cluster: broken\n'));
    await eventually(
      () => c.agents.get('n2')!.output().includes('ignoring invalid config in etcd'),
      10_000,
      'agent to log the refusal',
    );
    assert.equal(c.agents.get('n2')!.process.exitCode, null);
    // Put a valid one back for the tests that follow.
    await c.withEtcd((etcd) => storeConfig(etcd, c.configYaml(), 'test', 'test', 'latest'));
  });

  test('etcd outage: agents keep running and the mesh keeps working; degraded, then recovered', async () => {
    await c.etcd.pause();
    try {
      await eventually(
        async () => (await fetch(`${c.headUrl()}/readyz`)).status === 503,
        20_000,
        'readyz to report degraded',
      );
      const ready = await (await fetch(`${c.headUrl()}/readyz`)).json();
      assert.match(JSON.stringify(ready), /etcd: degraded/);
      assert.equal(c.agents.get('n1')!.process.exitCode, null);
      assert.equal(c.agents.get('n2')!.process.exitCode, null);
      assert.equal((await members()).find((m) => m.name === 'n2')?.state, 'alive');

      // A restart during the outage starts from the local cache and rejoins the mesh.
      const code = await c.agents.get('n2')!.kill('SIGTERM');
      assert.equal(code, 0);
      const restarted = await c.startAgent('n2');
      await eventually(
        () => restarted.output().includes('starting from the cached config'),
        20_000,
        'a cached start',
      );
      await eventually(
        async () => {
          const m = (await members()).find((x) => x.name === 'n2');
          return m?.state === 'alive' && m.incarnation > 0;
        },
        20_000,
        'n2 back in the mesh without etcd',
      );
    } finally {
      await c.etcd.resume();
    }
    await eventually(
      async () => (await fetch(`${c.headUrl()}/readyz`)).status === 200,
      30_000,
      'readyz to recover',
    );
    await eventually(() => record('n2'), 30_000, 'n2 to register once etcd is back');
  });
});
