// The kubecontroller election's housekeeping against a real etcd (head/controllers/leadership.ts): a head
// that learns a member is dead drops that member's campaign key, so the next head leads at once instead
// of after the dead one's lease TTL. removeDead says whether it is done or could not try (not a candidate
// yet, as while it campaigns again after an etcd outage): the kubecontroller asks again while the member
// stays dead.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { createLogger } from '../agent/log/logger.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import { Leadership } from '../head/controllers/leadership.ts';
import { eventually } from './harness/cluster.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';

describe('leadership: a dead head leaves the election', () => {
  let server: TestEtcd;
  let etcd: Etcd3;
  const cluster = 'leadership';
  const log = createLogger({ test: 'leadership' }, 'silent');
  const stops: Array<() => Promise<void>> = [];

  before(async () => {
    server = await startTestEtcd();
    etcd = await connectEtcd({ endpoints: [server.url], dialTimeoutMs: 3000 });
  });
  after(async () => {
    for (const stop of stops) await stop();
    etcd?.close();
    await server?.stop();
  });

  const head = (node: string) => {
    const elected: string[] = [];
    const l = new Leadership(
      { etcd, cluster, name: 'kubecontroller', node, log },
      { elected: () => elected.push(node), deposed: () => undefined },
    );
    stops.push(() => l.stop());
    return { l, elected };
  };
  const holders = async () =>
    Object.values(
      await etcd
        .getAll()
        .prefix(`${keys.election(cluster, 'kubecontroller')}/`)
        .strings(),
    );
  const record = (node: string, incarnation: number) =>
    etcd.put(keys.node(cluster, node)).value(JSON.stringify({ name: node, incarnation }));

  test('not a candidate yet: not done (ask again); a candidate: the dead key goes and it leads at once', async () => {
    await record('a', 1);
    await record('b', 1);
    const a = head('a');
    a.l.campaign();
    await eventually(() => a.elected.length === 1, 10_000, 'a elected');
    const b = head('b');
    assert.equal(await b.l.removeDead('a', 1), false, 'not standing: could not try');
    b.l.campaign();
    await eventually(async () => (await holders()).includes('b'), 10_000, 'b a candidate');
    // As if a's process were gone without resigning: its key would stay until its lease TTL (10 s).
    assert.equal(await b.l.removeDead('a', 2), true, 'another incarnation of a: nothing to do');
    assert.deepEqual((await holders()).sort(), ['a', 'b'], 'a newer a keeps its key');
    assert.equal(await b.l.removeDead('a', 1), true);
    assert.deepEqual(await holders(), ['b']);
    await eventually(() => b.elected.length === 1, 5000, 'b elected once a left');
  });
});
