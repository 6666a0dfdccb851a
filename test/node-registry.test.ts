// The node record's stop, against a real etcd: a clean stop hands the record to a lease of
// NODE_STOP_GRACE_SECONDS, marked stoppedAt (a restart slower than the TTL marks no pod NodeLost); only a
// record still under the agent's own lease is handed over (one deleted on a verdict, or replaced, is left
// alone); an unclean stop leaves it to the TTL; a start that failed after registering withdraws it (the
// lease revoked); with etcd frozen the stop still returns.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import {
  NODE_LEASE_TTL_SECONDS,
  NODE_STOP_GRACE_SECONDS,
  type NodeRecord,
  NodeRegistration,
} from '../agent/store/node-registry.ts';
import { suiteEtcd } from './harness/etcd.ts';
import { freezeProcess } from './harness/frozen.ts';

const cluster = 'registry';
const suite = suiteEtcd();

const recordOf = (name: string): NodeRecord => ({
  name,
  address: '127.0.0.1',
  roles: ['worker'],
  labels: {},
  peerId: `peer-${name}`,
  multiaddrs: [],
  capacity: {} as NodeRecord['capacity'],
  agentVersion: 'test',
  startedAt: new Date().toISOString(),
  incarnation: 1,
});

async function registered(name: string, client = suite.client): Promise<NodeRegistration> {
  const r = new NodeRegistration(client, cluster, recordOf(name), { onState() {} });
  await r.start();
  return r;
}

/** The stored record, and the TTL its lease was granted with (undefined: no lease). */
async function stored(name: string) {
  const { client: etcd } = suite;
  const res = await etcd.kv.range({ key: Buffer.from(keys.node(cluster, name)) });
  const kv = res.kvs[0];
  if (!kv) return undefined;
  const record = JSON.parse(kv.value.toString('utf8')) as NodeRecord;
  const ttl = await etcd.leaseClient.leaseTimeToLive({ ID: kv.lease });
  return { record, lease: kv.lease, grantedTtl: Number(ttl.grantedTTL) };
}

describe('a node record at the agent stop', () => {
  test('a clean stop: the record lives on under a lease of the stop grace, marked stopped', async () => {
    const r = await registered('clean');
    const before = (await stored('clean'))!;
    assert.equal(before.grantedTtl, NODE_LEASE_TTL_SECONDS);
    assert.equal(before.record.stoppedAt, undefined);
    await r.stop('clean');
    const after = (await stored('clean'))!;
    assert.equal(after.grantedTtl, NODE_STOP_GRACE_SECONDS);
    assert.notEqual(after.lease, before.lease);
    assert.equal(after.record.lease, after.lease, 'the record names its grace lease (drain revokes it)');
    assert.ok(after.record.stoppedAt && Date.parse(after.record.stoppedAt) > 0);
    assert.deepEqual(
      { ...after.record, lease: undefined, stoppedAt: undefined },
      {
        ...before.record,
        lease: undefined,
        stoppedAt: undefined,
      },
    );
    // The agent back: registered again, the mark gone.
    const again = await registered('clean');
    const back = (await stored('clean'))!;
    assert.equal(back.record.stoppedAt, undefined);
    assert.equal(back.grantedTtl, NODE_LEASE_TTL_SECONDS);
    await again.stop('expire');
  });

  test('a crash-like stop: the record is left to the TTL', async () => {
    const r = await registered('unclean');
    const before = (await stored('unclean'))!;
    await r.stop('expire');
    const after = (await stored('unclean'))!;
    assert.equal(after.lease, before.lease);
    assert.equal(after.record.stoppedAt, undefined);
  });

  test('a start that failed after registering withdraws the record, and what else its lease held', async () => {
    const r = await registered('aborted');
    const before = (await stored('aborted'))!;
    // An actor's alive record under the agent's lease (agent/store/alive.ts puts them so).
    const other = await suite.client
      .put('/registry-test/alive/aborted')
      .value('x')
      .lease(before.lease)
      .exec();
    assert.ok(other);
    await r.stop('withdraw');
    assert.equal(await stored('aborted'), undefined);
    assert.equal(await suite.client.get('/registry-test/alive/aborted').string(), null);
  });

  test('a record deleted on a verdict is not put back by the stop, nor one put by someone else', async () => {
    const gone = await registered('deleted');
    await suite.client.delete().key(keys.node(cluster, 'deleted'));
    await gone.stop('clean');
    assert.equal(await stored('deleted'), undefined);

    const replaced = await registered('replaced');
    const other = { ...recordOf('replaced'), incarnation: 2 };
    await suite.client.put(keys.node(cluster, 'replaced')).value(JSON.stringify(other));
    await replaced.stop('clean');
    const now = (await stored('replaced'))!;
    assert.equal(now.record.incarnation, 2);
    assert.equal(now.record.stoppedAt, undefined);
  });

  test('etcd frozen: a clean stop still returns, the record left to the TTL', async () => {
    // The agent's own client, closed after the stop as the agent closes it (its calls end with it).
    const own = await connectEtcd({ endpoints: [suite.server.url], dialTimeoutMs: 3000 });
    const r = await registered('frozen', own);
    const before = (await stored('frozen'))!;
    const pid = suite.server.process.pid!;
    // Not a bare SIGSTOP: kill(2) returns with the stop pending, and etcd once answered the handover 68 ms
    // later (ci88). freezeProcess waits until every thread of etcd is stopped.
    try {
      await freezeProcess(pid);
      await r.stop('clean');
      own.close();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const after = (await stored('frozen'))!;
    assert.equal(after.lease, before.lease);
    assert.equal(after.record.stoppedAt, undefined);
  });
});
