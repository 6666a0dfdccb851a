// Graceful deletion of pods (agent/objects/pod-deletion.ts): the pure plan (which grace, mark or remove),
// then the transaction against a real etcd, directly and through the controllers' fenced edge
// (head/controllers/actions.ts), then `nokube delete` through the real CLI and a real head: Terminating in
// `get` and `describe`, kubectl's --grace-period / --force / --now rules, --wait until the pod is gone.
// There the pods are bound to "ghost", a node with a record and no agent: nothing finishes their
// termination but the test, which plays the agent by removing the object.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { createLogger } from '../agent/log/logger.ts';
import { EventRecorder, listEvents } from '../agent/objects/events.ts';
import { deletePod, planPodDeletion } from '../agent/objects/pod-deletion.ts';
import { createObjects, getObject, newMeta, objectKey, writeStatus } from '../agent/objects/store.ts';
import type { Pod } from '../agent/objects/types.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import { FORCE_WARNING } from '../head/cli/commands/delete.ts';
import { applyActions } from '../head/controllers/actions.ts';
import {
  cliCommand,
  createTestCluster,
  eventually,
  getJson,
  runCli,
  type TestCluster,
} from './harness/cluster.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';

const pod = (name: string, extra: Partial<Pod['spec']> = {}): Pod =>
  newMeta({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: '',
      resourceVersion: '',
      generation: 0,
      creationTimestamp: '',
    },
    spec: { containers: [{ name: 'main', image: 'busybox' }], nodeName: 'n1', ...extra },
  });
/** Never bound by the sweep: no node matches. */
const nowhere = { nowhere: 'true' };
const T0 = Date.parse('2026-01-01T00:00:00Z');

describe('planPodDeletion', () => {
  test('a bound pod on a registered node is marked: the request grace, else its own, else 30 s', () => {
    assert.deepEqual(planPodDeletion(pod('a'), true, T0), {
      type: 'mark',
      deletionTimestamp: '2026-01-01T00:00:30Z',
      deletionGracePeriodSeconds: 30,
    });
    assert.deepEqual(planPodDeletion(pod('a', { terminationGracePeriodSeconds: 5 }), true, T0), {
      type: 'mark',
      deletionTimestamp: '2026-01-01T00:00:05Z',
      deletionGracePeriodSeconds: 5,
    });
    assert.deepEqual(planPodDeletion(pod('a', { terminationGracePeriodSeconds: 5 }), true, T0, 1), {
      type: 'mark',
      deletionTimestamp: '2026-01-01T00:00:01Z',
      deletionGracePeriodSeconds: 1,
    });
  });

  test('removed at once: grace 0 (force), not bound, node without a record, already terminated', () => {
    assert.deepEqual(planPodDeletion(pod('a'), true, T0, 0), { type: 'remove', why: 'force' });
    assert.deepEqual(planPodDeletion(pod('a', { nodeName: undefined }), true, T0), {
      type: 'remove',
      why: 'unbound',
    });
    assert.deepEqual(planPodDeletion(pod('a'), false, T0), { type: 'remove', why: 'node-absent' });
    for (const phase of ['Succeeded', 'Failed'] as const)
      assert.deepEqual(planPodDeletion({ ...pod('a'), status: { phase } }, true, T0), {
        type: 'remove',
        why: 'terminated',
      });
  });

  test('a second delete only shortens the grace (k8s: first request time + the new grace)', () => {
    const p = pod('a');
    p.metadata.deletionTimestamp = '2026-01-01T00:00:30Z';
    p.metadata.deletionGracePeriodSeconds = 30;
    const later = T0 + 10_000;
    assert.deepEqual(planPodDeletion(p, true, later), { type: 'none' });
    assert.deepEqual(planPodDeletion(p, true, later, 60), { type: 'none' });
    assert.deepEqual(planPodDeletion(p, true, later, 5), {
      type: 'mark',
      deletionTimestamp: '2026-01-01T00:00:05Z',
      deletionGracePeriodSeconds: 5,
    });
    assert.deepEqual(planPodDeletion(p, true, later, 0), { type: 'remove', why: 'force' });
  });
});

describe('deletePod and the fenced edge, against etcd', () => {
  let server: TestEtcd;
  let etcd: Etcd3;
  const cluster = 'poddel';
  const ref = (name: string) => ({ kind: 'Pod' as const, namespace: 'default', name });
  const read = (name: string) => getObject(etcd, cluster, ref(name));

  before(async () => {
    server = await startTestEtcd();
    etcd = await connectEtcd({ endpoints: [server.url], dialTimeoutMs: 3000 });
    await etcd.put(keys.node(cluster, 'n1')).value('{"name":"n1"}');
  });
  after(async () => {
    etcd?.close();
    await server?.stop();
  });

  test('marked, status kept, the object stays; shortened once; removed with grace 0', async () => {
    await createObjects(etcd, cluster, [pod('a')]);
    const first = (await read('a'))!;
    assert.ok(await writeStatus(etcd, cluster, ref('a'), first.createRevision, { phase: 'Running' }));
    const stored = (await read('a'))!;
    assert.equal(await deletePod(etcd, cluster, stored), 'terminating');
    const marked = (await read('a'))!;
    assert.equal(marked.object.metadata.deletionGracePeriodSeconds, 30);
    assert.ok(marked.object.metadata.deletionTimestamp);
    assert.equal(marked.object.status?.phase, 'Running', 'the status is the agent’s, untouched');
    assert.equal(await deletePod(etcd, cluster, marked), 'unchanged');
    assert.equal(await deletePod(etcd, cluster, marked, { gracePeriodSeconds: 2 }), 'terminating');
    const shorter = (await read('a'))!;
    assert.equal(shorter.object.metadata.deletionGracePeriodSeconds, 2);
    assert.equal(await deletePod(etcd, cluster, marked, { gracePeriodSeconds: 1 }), 'conflict', 'stale read');
    assert.equal(await deletePod(etcd, cluster, shorter, { gracePeriodSeconds: 0 }), 'removed');
    assert.equal(await read('a'), null);
    assert.equal(await etcd.get(`/nokube/${cluster}/status/pods/default/a`).string(), null);
  });

  test('a node without a record: removed at once; a record that came back meanwhile: nothing written', async () => {
    await createObjects(etcd, cluster, [pod('b', { nodeName: 'n9' }), pod('c', { nodeName: 'n9' })]);
    assert.equal(await deletePod(etcd, cluster, (await read('b'))!), 'removed');
    assert.equal(await read('b'), null);
    // Judged absent, but the record is back by the time of the write: the removal does not land.
    const c = (await read('c'))!;
    await etcd.put(keys.node(cluster, 'n9')).value('{"name":"n9"}');
    assert.equal(await deletePod(etcd, cluster, c, { nodeRegistered: false }), 'conflict');
    assert.ok(await read('c'));
    assert.equal(await deletePod(etcd, cluster, c), 'terminating');
  });

  test('through the edge: a controller delete marks the pod (SuccessfulDelete once), a deposed leader writes nothing', async () => {
    const recorder = new EventRecorder(
      etcd,
      cluster,
      { component: 'test' },
      createLogger({ t: 'd' }, 'silent'),
    );
    const fenceKey = `/nokube/${cluster}/election/kubecontroller/lease`;
    await etcd.put(fenceKey).value('head-a');
    const fence = (await etcd.get(fenceKey).exec()).kvs[0]!;
    const guard = [
      { key: fenceKey, target: 'Create' as const, op: '==' as const, value: fence.create_revision },
    ];
    const edge = { etcd, cluster, recorder, guard };
    const owner = {
      ref: { kind: 'Deployment' as const, namespace: 'default', name: 'd', uid: 'uid-d' },
      createRevision: '1',
    };
    await createObjects(etcd, cluster, [pod('e'), pod('f')]);
    const e = (await read('e'))!;
    assert.equal(await applyActions(edge, owner, [{ type: 'delete', pod: e, why: 'scaled to 0' }]), 0);
    const marked = (await read('e'))!;
    assert.ok(marked.object.metadata.deletionTimestamp, 'Terminating, not removed');
    assert.equal(await applyActions(edge, owner, [{ type: 'delete', pod: marked, why: 'again' }]), 0);
    await recorder.flush();
    const events = await listEvents(etcd, cluster, owner.ref);
    assert.deepEqual(
      events.filter((x) => x.reason === 'SuccessfulDelete').map((x) => x.message),
      [`Deleted pod: e (scaled to 0)`],
    );
    await etcd.delete().key(fenceKey);
    await etcd.put(fenceKey).value('head-b');
    const f = (await read('f'))!;
    assert.equal(await applyActions(edge, owner, [{ type: 'delete', pod: f, why: 'deposed' }]), 1);
    assert.equal((await read('f'))!.object.metadata.deletionTimestamp, undefined);
  });

  test('a namespace verdict (the sweep) holds only while the namespace is as the leader saw it', async () => {
    const edge = {
      etcd,
      cluster,
      recorder: new EventRecorder(etcd, cluster, { component: 'test' }, createLogger({ t: 'd' }, 'silent')),
      guard: [],
    };
    const inTeam = pod('g');
    inTeam.metadata.namespace = 'team';
    const team = newMeta({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'team', uid: '', resourceVersion: '', generation: 0, creationTimestamp: '' },
    });
    await createObjects(etcd, cluster, [team as never, inTeam]);
    const g = (await getObject(etcd, cluster, { kind: 'Pod', namespace: 'team', name: 'g' }))!;
    const owner = {
      ref: { kind: 'Pod' as const, namespace: 'team', name: 'g', uid: g.object.metadata.uid },
      createRevision: g.createRevision,
    };
    const verdict = {
      type: 'delete' as const,
      pod: g,
      why: 'namespace team is gone',
      whileNamespace: { name: 'team', createRevision: '0' },
    };
    assert.equal(await applyActions(edge, owner, [verdict]), 1, 'the namespace exists: nothing written');
    assert.equal(
      (await getObject(etcd, cluster, { kind: 'Pod', namespace: 'team', name: 'g' }))!.object.metadata
        .deletionTimestamp,
      undefined,
    );
    await etcd.delete().key(objectKey(cluster, { kind: 'Namespace', name: 'team' }));
    assert.equal(await applyActions(edge, owner, [verdict]), 0);
    assert.ok(
      (await getObject(etcd, cluster, { kind: 'Pod', namespace: 'team', name: 'g' }))!.object.metadata
        .deletionTimestamp,
      'Terminating',
    );
  });
});

describe('delete: graceful pods, --grace-period, --force, --wait', { timeout: 120_000 }, () => {
  let c: TestCluster;
  const cli = (args: string[], input?: string) => runCli(args, c.env, input);
  const read = (name: string) =>
    c.withEtcd((etcd) => getObject(etcd, c.name, { kind: 'Pod', namespace: 'default', name }));

  before(async () => {
    c = await createTestCluster({ nodes: 1, net: 71 });
    await c.startAgent('n1');
    await eventually(() => getJson(`${c.headUrl()}/readyz`), 30_000, 'head ready');
    await c.withEtcd(async (etcd) => {
      const n1 = await eventually(() => etcd.get(keys.node(c.name, 'n1')).string(), 30_000, 'n1 record');
      await etcd.put(keys.node(c.name, 'ghost')).value(JSON.stringify({ ...JSON.parse(n1!), name: 'ghost' }));
      await createObjects(etcd, c.name, [
        pod('a', { nodeName: 'ghost', nodeSelector: nowhere }),
        pod('b', { nodeName: 'ghost', nodeSelector: nowhere }),
        pod('free', { nodeName: undefined, nodeSelector: nowhere }),
        pod('stuck', { nodeName: 'ghost', nodeSelector: nowhere }),
      ]);
    });
  });
  after(async () => {
    await c?.stop();
  });

  test('a bound pod: Terminating (get, describe), grace 30 s; --grace-period=0 without --force is 1 s', async () => {
    const r = await cli(['delete', 'pod', 'a', '--wait=false']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'pods "a" deleted\n');
    const marked = (await read('a'))!.object;
    assert.equal(marked.metadata.deletionGracePeriodSeconds, 30);
    const at = Date.parse(marked.metadata.deletionTimestamp!);
    assert.ok(
      Math.abs(at - (Date.now() + 30_000)) < 5000,
      `deletionTimestamp ${marked.metadata.deletionTimestamp}`,
    );
    const get = await cli(['get', 'pods']);
    assert.match(get.stdout, /^a\s+0\/1\s+Terminating\s/m);
    const describe = await cli(['describe', 'pod', 'a']);
    assert.match(describe.stdout, /^Status:\s+Terminating \(lasts \d+s\)$/m);
    assert.match(describe.stdout, /^Termination Grace Period:\s+30s$/m);

    const longer = await cli(['delete', 'pod', 'a', '--grace-period=60', '--wait=false']);
    assert.equal(longer.code, 0, longer.stderr);
    assert.equal(
      (await read('a'))!.object.metadata.deletionGracePeriodSeconds,
      30,
      'a longer grace is ignored',
    );
    const zero = await cli(['delete', 'pod', 'a', '--grace-period=0', '--wait=false']);
    assert.equal(zero.code, 0, zero.stderr);
    assert.equal(zero.stderr, '', 'no force, no warning');
    assert.equal((await read('a'))!.object.metadata.deletionGracePeriodSeconds, 1, 'kubectl: 0 becomes 1');
  });

  test('kubectl rules: --force with a grace above 0, --now with --grace-period are refused, nothing changes', async () => {
    const both = await cli(['delete', 'pod', 'b', '--force', '--grace-period=5']);
    assert.equal(both.code, 2, 'a usage error');
    assert.match(both.stderr, /--force and --grace-period greater than 0 cannot be specified together/);
    const now = await cli(['delete', 'pod', 'b', '--now', '--grace-period=5']);
    assert.equal(now.code, 2);
    assert.match(now.stderr, /--now and --grace-period cannot be specified together/);
    assert.equal((await read('b'))!.object.metadata.deletionTimestamp, undefined);
    const bad = await fetch(`${c.headUrl()}/api/v1/objects/pods/default/b?gracePeriodSeconds=soon`, {
      method: 'DELETE',
    });
    assert.equal(bad.status, 400);
    assert.equal((await read('b'))!.object.metadata.deletionTimestamp, undefined);
  });

  test('--force: kubectl’s warning, "force deleted", the object gone at once', async () => {
    const r = await cli(['delete', 'pod', 'a', '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, `${FORCE_WARNING}\n`);
    assert.equal(r.stdout, 'pods "a" force deleted\n');
    assert.equal(await read('a'), null);
  });

  test('delete namespace: its other objects go at once, its pods gracefully (a bound one Terminating)', async () => {
    const applied = await cli(
      ['apply', '-f', '-'],
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: team}\ndata: {k: v}\n`,
    );
    assert.equal(applied.code, 0, applied.stderr);
    const bound = pod('bound', { nodeName: 'ghost', nodeSelector: nowhere });
    const free = pod('loose', { nodeName: undefined, nodeSelector: nowhere });
    for (const p of [bound, free]) p.metadata.namespace = 'team';
    await c.withEtcd((etcd) => createObjects(etcd, c.name, [bound, free]));
    const del = await cli(['delete', 'namespace', 'team']);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, 'namespaces "team" deleted\n');
    const inTeam = (kind: 'Pod' | 'ConfigMap', name: string) =>
      c.withEtcd((etcd) => getObject(etcd, c.name, { kind, namespace: 'team', name }));
    assert.equal(await inTeam('ConfigMap', 'cfg'), null);
    assert.equal(await inTeam('Pod', 'loose'), null, 'not bound: removed at once');
    const marked = (await inTeam('Pod', 'bound'))!.object;
    assert.equal(marked.metadata.deletionGracePeriodSeconds, 30, 'bound: Terminating, its agent stops it');
    const get = await cli(['get', 'pods', '-n', 'team']);
    assert.match(get.stdout, /^bound\s+0\/1\s+Terminating\s/m);
  });

  test('--timeout: delete gives up waiting with kubectl’s error; the pod stays Terminating', async () => {
    const bad = await cli(['delete', 'pod', 'stuck', '--timeout=soon']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--timeout soon: expected a duration such as 30s, 5m, 2h/);
    assert.equal((await read('stuck'))!.object.metadata.deletionTimestamp, undefined, 'nothing changed');
    // No agent runs on "ghost": nothing will ever stop the pod.
    const r = await cli(['delete', 'pod', 'stuck', '--timeout=1s']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, 'pods "stuck" deleted\n');
    assert.equal(r.stderr, 'error: timed out waiting for the condition on pods/stuck\n');
    assert.ok((await read('stuck'))!.object.metadata.deletionTimestamp, 'still Terminating');
  });

  test('an unbound pod goes at once; a bound one: delete waits (--wait) until its agent removed it', async () => {
    const free = await cli(['delete', 'pod', 'free']);
    assert.equal(free.code, 0, free.stderr);
    assert.equal(await read('free'), null);

    const [cmd, base] = cliCommand();
    const child = spawn(cmd, [...base, 'delete', 'pod', 'b', '--grace-period=7'], {
      env: { ...process.env, ...c.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const marked = await eventually(
      async () => {
        const b = await read('b');
        return b?.object.metadata.deletionTimestamp ? b : undefined;
      },
      15_000,
      'b Terminating',
    );
    assert.equal(marked.object.metadata.deletionGracePeriodSeconds, 7);
    await eventually(() => out === 'pods "b" deleted\n', 15_000, 'the delete line');
    assert.equal(child.exitCode, null, 'still waiting while the pod exists');
    // The agent's part: the object goes once the containers are stopped.
    await c.withEtcd((etcd) =>
      etcd
        .delete()
        .key(objectKey(c.name, { kind: 'Pod', namespace: 'default', name: 'b' }))
        .exec(),
    );
    assert.equal(await exited, 0);
  });
});
