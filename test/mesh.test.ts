// Five agents in separate processes: all see each other; SIGKILL -> dead, SIGTERM -> left (its record kept for the stop grace),
// a restarted agent rejoins with a higher incarnation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Member } from '../agent/mesh/member-table.ts';
import { listNodes, NODE_STOP_GRACE_SECONDS } from '../agent/store/node-registry.ts';
import { createTestCluster, eventually, getJson, type TestCluster } from './harness/cluster.ts';

describe('gossip mesh with 5 agents', { timeout: 120_000 }, () => {
  let c: TestCluster;
  const members = async (node: string) => {
    const n = c.nodes.find((x) => x.name === node)!;
    return (await getJson<{ items: Member[] }>(`http://${n.address}:${c.headPort}/api/v1/members`)).items;
  };
  const stateOf = async (observer: string, member: string) =>
    (await members(observer)).find((m) => m.name === member)?.state;

  before(async () => {
    // Every node is a head so each one's own member table can be read over its API.
    c = await createTestCluster({ nodes: 5, heads: 5, net: 31 });
    await Promise.all(c.nodes.map((n) => c.startAgent(n.name)));
  });
  after(async () => {
    await c.stop();
  });

  test('every agent sees all five alive', async () => {
    for (const n of c.nodes) {
      await eventually(
        async () => {
          const list = await members(n.name);
          return list.length === 5 && list.every((m) => m.state === 'alive');
        },
        30_000,
        `${n.name} to see 5 alive members`,
      );
    }
  });

  test('a SIGKILLed agent is marked dead by every survivor', async () => {
    await c.agents.get('n5')!.kill('SIGKILL');
    for (const n of c.nodes.slice(0, 4)) {
      await eventually(
        async () => (await stateOf(n.name, 'n5')) === 'dead',
        10_000,
        `${n.name} to mark n5 dead`,
      );
    }
  });

  test('a SIGTERMed agent leaves: survivors mark it left, its node record lives on for the stop grace, it exits 0', async () => {
    const code = await c.agents.get('n4')!.kill('SIGTERM');
    assert.equal(code, 0, c.agents.get('n4')!.output().slice(-2000));
    for (const n of c.nodes.slice(0, 3)) {
      await eventually(
        async () => (await stateOf(n.name, 'n4')) === 'left',
        10_000,
        `${n.name} to mark n4 left`,
      );
    }
    // Not revoked (a restart, even one slower than the TTL, must move no pods): handed to a lease of the
    // stop grace, marked stopped (the expiry itself is etcd's; test/node-registry.test.ts has the rest).
    const n4 = await c.withEtcd(async (etcd) => (await listNodes(etcd, c.name)).find((r) => r.name === 'n4'));
    assert.ok(n4?.stoppedAt, 'the record outlives the agent, marked stopped');
    const granted = await c.withEtcd((etcd) => etcd.leaseClient.leaseTimeToLive({ ID: n4.lease! }));
    assert.equal(Number(granted.grantedTTL), NODE_STOP_GRACE_SECONDS);
  });

  test('a restarted agent rejoins with a higher incarnation', async () => {
    const before = (await members('n1')).find((m) => m.name === 'n5')!.incarnation;
    await c.startAgent('n5');
    for (const n of c.nodes.slice(0, 3)) {
      await eventually(
        async () => (await stateOf(n.name, 'n5')) === 'alive',
        30_000,
        `${n.name} to see n5 alive again`,
      );
    }
    const after = (await members('n1')).find((m) => m.name === 'n5')!;
    assert.ok(after.incarnation > before, 'restart carries a newer incarnation');
    // And the restarted agent sees the others.
    await eventually(
      async () => {
        const view = await members('n5');
        return ['n1', 'n2', 'n3'].every((name) => view.find((m) => m.name === name)?.state === 'alive');
      },
      30_000,
      'n5 to see n1..n3 alive',
    );
  });
});
