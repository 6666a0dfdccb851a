// The fault suite's checkers (test/harness/faults/check/) on hand-made histories: each must fail on the
// history it exists to catch, and pass on a quiet one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { aliveAgainAfter, aliveAtEnd, aliveThroughout } from './harness/faults/check/alive.ts';
import { containersStable } from './harness/faults/check/containers.ts';
import { converged } from './harness/faults/check/converged.ts';
import { tooManyCopies } from './harness/faults/check/copies.ts';
import { agreedLeader, leaderUnchanged, leaderWithin, oneLeader } from './harness/faults/check/leader.ts';
import { lostObjects } from './harness/faults/check/objects.ts';
import { notUnknownAfter, podsCreated, podsDeleted } from './harness/faults/check/pods.ts';
import { summary } from './harness/faults/check/violation.ts';
import type {
  ContainerView,
  DockerSample,
  EtcdSample,
  HeadsSample,
  HeadView,
  History,
  Note,
  PodView,
} from './harness/faults/history.ts';
import { impairedAt } from './harness/faults/history.ts';
import { timeline } from './harness/faults/timeline.ts';

const pod = (name: string, node: string, extra: Partial<PodView> = {}): PodView => ({
  namespace: 'default',
  name,
  uid: `uid-${name}`,
  node,
  owner: 'Deployment/web',
  phase: 'Running',
  containers: ['main'],
  ...extra,
});
const A = pod('web-a', 'f1');
const B = pod('web-b', 'f3');

const ct = (p: PodView, id: string, extra: Partial<ContainerView> = {}): ContainerView => ({
  id,
  node: p.node!,
  namespace: p.namespace,
  pod: p.name,
  podUid: p.uid,
  container: 'main',
  ownerPath: `deployment-web/pod-${p.name}/container-main`,
  running: true,
  ...extra,
});

const aliveOf = (...pods: PodView[]) => [
  '_cluster/kubecontroller',
  'default/deployment-web',
  ...pods.flatMap((p) => [
    `default/deployment-web/pod-${p.name}`,
    `default/deployment-web/pod-${p.name}/container-main`,
  ]),
];

const etcd = (
  t: number,
  pods: PodView[],
  extra: Partial<Extract<EtcdSample, { ok: true }>> = {},
): EtcdSample => ({
  t,
  ok: true,
  objects: ['deployments/default/web', ...pods.map((p) => `pods/default/${p.name}`)],
  pods,
  deployments: [{ namespace: 'default', name: 'web', replicas: 2 }],
  alive: aliveOf(...pods),
  nodes: { f1: 1, f2: 1, f3: 1 },
  election: [{ node: 'f1', createRevision: 10, lease: 'a' }],
  ...extra,
});
const docker = (t: number, containers: ContainerView[]): DockerSample => ({ t, ok: true, containers });
const heads = (
  t: number,
  f1: HeadView,
  f2: HeadView = { answer: f1.answer, acting: false },
): HeadsSample => ({
  t,
  heads: { f1, f2 },
});
const LEAD: HeadView = { answer: 'f1', acting: true };

function history(o: {
  etcd?: EtcdSample[];
  docker?: DockerSample[];
  leaders?: HeadsSample[];
  notes?: Note[];
}): History {
  return {
    cluster: 'c',
    nodes: ['f1', 'f2', 'f3'],
    heads: ['f1', 'f2'],
    start: 0,
    end: 10_000,
    etcd: o.etcd ?? [],
    docker: o.docker ?? [],
    leaders: o.leaders ?? [],
    notes: o.notes ?? [],
    dropped: 0,
  };
}
/** A quiet history: the same two pods, containers and leader in every sample. */
const quiet = () =>
  history({
    etcd: [0, 250, 500].map((t) => etcd(t, [A, B])),
    docker: [0, 250, 500].map((t) => docker(t, [ct(A, 'a1'), ct(B, 'b1')])),
    leaders: [0, 250, 500].map((t) => heads(t, LEAD)),
  });
const checks = (v: Array<{ check: string; what: string }>) => v.map((x) => `${x.check}: ${x.what}`);

describe('fault checkers', () => {
  test('a quiet history passes every checker', () => {
    const h = quiet();
    assert.deepEqual(
      [
        ...podsDeleted(h),
        ...podsCreated(h),
        ...containersStable(h),
        ...tooManyCopies(h),
        ...lostObjects(h, ['deployments/default/web', 'pods/default/web-a']),
        ...oneLeader(h),
        ...agreedLeader(h),
        ...leaderUnchanged(h, 'f1'),
        ...aliveAtEnd(h),
        ...aliveThroughout(h, ['f1', 'f3']),
        ...converged(h),
      ],
      [],
    );
  });

  test('(a) a pod that disappears is deleted, one that appears is created, unless allowed', () => {
    const C = pod('web-c', 'f2');
    const h = history({ etcd: [etcd(0, [A, B]), etcd(250, [A, C]), etcd(500, [A, C])] });
    const deleted = podsDeleted(h);
    assert.deepEqual(checks(deleted), ['pods-deleted: pod default/web-b (on f3) deleted']);
    assert.equal(deleted[0]!.t, 250);
    assert.deepEqual(checks(podsCreated(h)), ['pods-created: pod default/web-c (on f2) created']);
    assert.deepEqual(
      podsDeleted(h, (p) => p.node === 'f3'),
      [],
    );
    assert.deepEqual(
      podsCreated(h, (p) => p.node === 'f2'),
      [],
    );
    // Same name, new uid: the old pod was deleted.
    const again = history({ etcd: [etcd(0, [B]), etcd(250, [{ ...B, uid: 'uid-new' }])] });
    assert.equal(podsDeleted(again).length, 1);
  });

  test('a pod still Unknown after the bound is reported, one that left Unknown in time is not', () => {
    const unknown = { ...B, phase: 'Unknown', reason: 'NodeLost' };
    const slow = history({ etcd: [etcd(1000, [unknown]), etcd(3000, [unknown]), etcd(5000, [B])] });
    const v = notUnknownAfter(slow, { namespace: 'default', name: 'web-b' }, 1000, 1500);
    assert.deepEqual(checks(v), [
      'pod-unknown: pod default/web-b (on f3) still Unknown (NodeLost) 2.0 s after +1.0 s (bound 1.5 s)',
    ]);
    const fast = history({ etcd: [etcd(1000, [unknown]), etcd(2000, [B])] });
    assert.deepEqual(notUnknownAfter(fast, { namespace: 'default', name: 'web-b' }, 1000, 1500), []);
  });

  test("a node back from a fault has its running containers' alive records within the bound", () => {
    const running = [docker(0, [ct(A, 'a1'), ct(B, 'b1')])];
    const without = { alive: aliveOf(A) };
    const slow = history({
      etcd: [etcd(1000, [A, B], without), etcd(3000, [A, B], without), etcd(5000, [A, B])],
      docker: running,
    });
    assert.deepEqual(checks(aliveAgainAfter(slow, 'f3', 1000, 1500)), [
      'alive-again: alive/default/deployment-web/pod-web-b/container-main (running on f3) still missing 2.0 s after +1.0 s (bound 1.5 s)',
    ]);
    // Another node's records are not this check's.
    assert.deepEqual(aliveAgainAfter(slow, 'f1', 1000, 1500), []);
    const fast = history({ etcd: [etcd(1000, [A, B], without), etcd(2000, [A, B])], docker: running });
    assert.deepEqual(aliveAgainAfter(fast, 'f3', 1000, 1500), []);
  });

  test('(b) a running container stopped, removed or replaced is reported, unless allowed', () => {
    const h = history({
      docker: [
        docker(0, [ct(A, 'a1'), ct(B, 'b1')]),
        docker(250, [ct(A, 'a1', { running: false })]),
        docker(500, [ct(A, 'a1'), ct(B, 'b2')]),
      ],
    });
    assert.deepEqual(checks(containersStable(h)), [
      'containers-stable: container default/web-a/main on f1 (a1) stopped',
      'containers-stable: container default/web-b/main on f3 (b1) removed',
      'containers-stable: container default/web-a/main on f1 (a1) restarted',
      'containers-stable: container default/web-b/main on f3 (b2) replaces b1',
    ]);
    assert.equal(containersStable(h, (c) => c.node === 'f1' || c.node === 'f3').length, 0);
  });

  test('(c) more copies than replicas + maxSurge for longer than allowed is reported once', () => {
    const C = pod('web-c', 'f2');
    const D = pod('web-d', 'f2');
    const four = [ct(A, 'a1'), ct(B, 'b1'), ct(C, 'c1'), ct(D, 'd1')];
    const h = history({
      etcd: [etcd(0, [A, B])],
      docker: [
        docker(0, four),
        docker(1000, four),
        docker(2000, four),
        docker(3000, [ct(A, 'a1'), ct(B, 'b1')]),
      ],
    });
    const v = tooManyCopies(h, { allowMs: 1500 });
    assert.deepEqual(checks(v), [
      'copies: deployment default/web: 4 running copies > 2 replicas + 1 surge for more than 1.5 s',
    ]);
    assert.equal(v[0]!.t, 0);
    assert.deepEqual(tooManyCopies(h, { allowMs: 2500 }), []);
    // A stopped container is not a copy.
    const stopped = history({
      etcd: [etcd(0, [A, B])],
      docker: [docker(0, [...four.slice(0, 3), ct(D, 'd1', { running: false })])],
    });
    assert.deepEqual(tooManyCopies(stopped), []);
  });

  test('(d) an object missing at the end is lost', () => {
    const h = history({ etcd: [etcd(0, [A, B]), etcd(250, [A])] });
    assert.deepEqual(checks(lostObjects(h, ['pods/default/web-a', 'pods/default/web-b'])), [
      'lost-objects: pods/default/web-b is not in etcd at the end',
    ]);
    assert.equal(lostObjects(history({ etcd: [{ t: 0, ok: false, error: 'down' }] }), []).length, 1);
  });

  test('(e) two leaders at once, a stale acting head, disagreement at the end', () => {
    const split = history({ leaders: [heads(0, LEAD, { answer: 'f2', acting: false })] });
    assert.deepEqual(checks(oneLeader(split)), ['one-leader: heads answer different leaders: f1, f2']);
    // A frozen head's answer does not count.
    const frozen = history({
      leaders: [heads(0, LEAD, { answer: 'f2', acting: false })],
      notes: [{ t: -1, kind: 'freeze', target: 'f2', text: '' }],
    });
    assert.deepEqual(oneLeader(frozen), []);
    // Both run the controllers: tolerated for the overlap, then reported.
    const both = history({
      leaders: [0, 1000, 2000, 3000].map((t) =>
        heads(t, { answer: 'f2', acting: true }, { answer: 'f2', acting: true }),
      ),
    });
    assert.deepEqual(oneLeader(both, 5000), []);
    assert.deepEqual(checks(oneLeader(both, 1500)), [
      'one-leader: f1 and f2 all run the controllers for more than 1.5 s',
    ]);

    const nobody = history({ etcd: [etcd(0, [])], leaders: [heads(0, { answer: null, acting: true })] });
    assert.deepEqual(checks(agreedLeader(nobody)), [
      'agreed-leader: the heads do not agree on one leader (f1: null, f2: null)',
    ]);
    const other = history({
      etcd: [
        etcd(0, [], {
          election: [
            { node: 'f2', createRevision: 3, lease: 'b' },
            { node: 'f1', createRevision: 9, lease: 'a' },
          ],
        }),
      ],
      leaders: [heads(0, LEAD)],
    });
    assert.deepEqual(checks(agreedLeader(other)), [
      'agreed-leader: heads say f1 leads, the election is held by f2',
    ]);
    const idle = history({ etcd: [etcd(0, [])], leaders: [heads(0, { answer: 'f1', acting: false })] });
    assert.deepEqual(checks(agreedLeader(idle)), [
      'agreed-leader: f1 leads but the controllers run on no head',
    ]);
  });

  test('(e) the leader changing, or not replaced in time', () => {
    const changed = history({
      etcd: [etcd(0, [])],
      leaders: [heads(0, LEAD), heads(250, { answer: 'f2', acting: false })],
    });
    assert.deepEqual(checks(leaderUnchanged(changed, 'f1')), [
      'leader-unchanged: f1 answers f2 instead of f1',
    ]);
    const failover = (t: number) =>
      history({
        leaders: [
          heads(0, { error: 'down' }, { answer: null }),
          heads(t, { error: 'down' }, { answer: 'f2', acting: true }),
        ],
      });
    assert.deepEqual(leaderWithin(failover(1500), 'f1', 0, 2000), []);
    assert.deepEqual(checks(leaderWithin(failover(2500), 'f1', 0, 2000)), [
      'leader-within: no head answered a new leader within 2 s of +0.0 s, when f1 went away',
    ]);
  });

  test('(f) alive records missing at the end, or lost on the way', () => {
    const missing = history({
      etcd: [etcd(0, [A, B], { alive: aliveOf(A).filter((k) => k !== 'default/deployment-web') })],
      docker: [docker(0, [ct(A, 'a1'), ct(B, 'b1')])],
    });
    assert.deepEqual(checks(aliveAtEnd(missing)), [
      'alive-at-end: alive/default/deployment-web missing',
      'alive-at-end: alive/default/deployment-web/pod-web-b/container-main missing',
      'alive-at-end: alive/default/deployment-web/pod-web-b missing',
    ]);
    const gap = history({
      etcd: [etcd(0, [A, B]), etcd(250, [A, B], { alive: aliveOf(A) }), etcd(500, [A, B])],
      docker: [docker(0, [ct(A, 'a1'), ct(B, 'b1')]), docker(500, [ct(A, 'a1'), ct(B, 'b1')])],
    });
    assert.deepEqual(checks(aliveThroughout(gap, ['f3'])), [
      'alive-throughout: alive/default/deployment-web/pod-web-b/container-main (running on f3) missing',
      'alive-throughout: alive/default/deployment-web/pod-web-b (running on f3) missing',
    ]);
    assert.deepEqual(aliveThroughout(gap, ['f1']), []);
  });

  test('(g) not converged: a pod Unknown, a stray or duplicate container, a node or a replica missing', () => {
    const h = history({
      etcd: [etcd(0, [A, { ...B, phase: 'Unknown', reason: 'NodeLost' }], { nodes: { f1: 1, f2: 1 } })],
      docker: [docker(0, [ct(A, 'a1'), ct(A, 'a2', { node: 'f2' }), ct(pod('web-x', 'f2'), 'x1')])],
    });
    assert.deepEqual(checks(converged(h)), [
      'converged: node f3 has no record',
      'converged: pod default/web-b is Unknown (NodeLost)',
      'converged: pod default/web-b: 0 running containers main on f3',
      'converged: container default/web-a/main runs on f2, its pod is on f1',
      'converged: container default/web-x/main on f2 runs without its pod',
    ]);
    const short = history({ etcd: [etcd(0, [A])], docker: [docker(0, [ct(A, 'a1')])] });
    assert.deepEqual(checks(converged(short)), ['converged: deployment default/web has 1 pods, wants 2']);
    assert.deepEqual(checks(converged(quiet(), 1000)), ['converged: no fresh sample of etcd and Docker']);
  });

  test('impaired targets follow the notes; a reboot keeps a host impaired until healed', () => {
    const note = (t: number, kind: Note['kind'], target: string): Note => ({ t, kind, target, text: '' });
    const h = history({
      notes: [
        note(1, 'freeze', 'f1'),
        note(2, 'thaw', 'f1'),
        note(3, 'cut', 'f3'),
        note(4, 'kill', 'f3'),
        note(5, 'start', 'f3'),
        note(6, 'heal', 'f3'),
      ],
    });
    assert.deepEqual([...impairedAt(h, 1.5)], ['f1']);
    assert.deepEqual([...impairedAt(h, 2.5)], []);
    assert.deepEqual([...impairedAt(h, 5.5)], ['f3']);
    assert.deepEqual([...impairedAt(h, 6.5)], []);
  });

  test('the summary and the timeline read as text, in time order', () => {
    const h = history({
      etcd: [etcd(0, [A, B]), etcd(1500, [A])],
      docker: [docker(0, [ct(A, 'a1'), ct(B, 'b1')]), docker(1600, [ct(A, 'a1')])],
      leaders: [heads(0, LEAD)],
      notes: [{ t: 1000, kind: 'freeze', target: 'f3', text: 'SIGSTOP f3' }],
    });
    assert.equal(summary(h, podsDeleted(h)), '+1.5 s pods-deleted: pod default/web-b (on f3) deleted');
    const lines = timeline(h).split('\n');
    const clock = new Date(performance.timeOrigin + 1000).toISOString().slice(11, 23);
    assert.deepEqual(lines.slice(3), [
      `+1.0 s FAULT SIGSTOP f3 (${clock} UTC)`,
      '+1.5 s etcd: - pod web-b on f3 Running deleted',
      '+1.5 s etcd: alive records gone (2): default/deployment-web/pod-web-b, default/deployment-web/pod-web-b/container-main',
      '+1.6 s docker: web-b/main on f3 (b1) removed',
    ]);
  });
});
