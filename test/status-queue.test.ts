// The pods part's status queue (agent/pods/status-queue.ts) with a write the test holds: what ends in
// the store is always the latest status reported, whatever a write in flight meanwhile. The writes go to
// a list (the real etcd write of a batch is test/write-statuses.test.ts's).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod, PodStatus } from '../agent/objects/types.ts';
import { PodStatusQueue, type StatusTarget } from '../agent/pods/status-queue.ts';

const pod = { metadata: { name: 'web', namespace: 'default', uid: 'u1' } } as Pod;
const ready = (yes: boolean, at = '2026-12-04T00:00:00Z'): PodStatus => ({
  phase: 'Running',
  conditions: [{ type: 'Ready', status: yes ? 'True' : 'False', lastTransitionTime: at }],
});
const readyOf = (s: PodStatus | undefined) => s?.conditions?.[0]?.status;

/** A queue whose writes wait for `release()`; `stored` is what reached the store, in order. */
function held() {
  const stored: string[] = [];
  let gate: (() => void) | undefined;
  let fail = false;
  const queue = new PodStatusQueue({
    target: (id): StatusTarget | undefined =>
      id === 'default/web' ? { pod, createRevision: '7' } : undefined,
    write: async (batch) => {
      await new Promise<void>((resolve) => {
        gate = resolve;
      });
      if (fail) throw new Error('etcd away');
      for (const b of batch) stored.push(readyOf(b.status)!);
    },
    failed: () => undefined,
    wrote: () => undefined,
    stopped: () => false,
  });
  return {
    queue,
    stored,
    failing(yes: boolean) {
      fail = yes;
    },
    /** Lets the write in flight end, then waits until the next one (or none) started. */
    async release() {
      const g = gate;
      gate = undefined;
      g?.();
      await new Promise((r) => setImmediate(r));
    },
  };
}

test('ready, unready while that write is in flight, ready again: the last one is what stays', async () => {
  const h = held();
  h.queue.report('default/web', ready(true));
  await h.release();
  assert.deepEqual(h.stored, ['True']);
  h.queue.report('default/web', ready(false));
  // Ready again while the unready status is being written: equal to the written one, yet it must win.
  h.queue.report('default/web', ready(true));
  await h.release();
  await h.release();
  assert.deepEqual(h.stored, ['True', 'False', 'True']);
  assert.equal(readyOf(h.queue.written.get('default/web')?.status), 'True');
  assert.equal(h.queue.pending.size, 0);
});

test('unready, then ready while a write is in flight, then unready again before it ends: unready stays', async () => {
  const h = held();
  h.queue.report('default/web', ready(false));
  await h.release();
  h.queue.report('default/web', ready(true));
  h.queue.report('default/web', ready(false));
  await h.release();
  await h.release();
  assert.equal(h.stored.at(-1), 'False');
  assert.equal(readyOf(h.queue.latest('default/web')), 'False');
  assert.equal(h.queue.pending.size, 0);
});

test('the same status reported again while it is pending is written once', async () => {
  const h = held();
  h.queue.report('default/web', ready(true));
  h.queue.report('default/web', ready(true, '2026-12-04T00:00:05Z'));
  await h.release();
  await h.release();
  assert.deepEqual(h.stored, ['True']);
});

test("a condition that did not change keeps its transition time from the pending status, not the written one's", async () => {
  const h = held();
  h.queue.report('default/web', ready(true, '2026-12-04T00:00:00Z'));
  await h.release();
  h.queue.report('default/web', ready(false, '2026-12-04T00:01:00Z'));
  h.queue.report('default/web', { ...ready(false, '2026-12-04T00:02:00Z'), phase: 'Running', message: 'm' });
  await h.release();
  await h.release();
  assert.equal(
    h.queue.written.get('default/web')?.status.conditions?.[0]?.lastTransitionTime,
    '2026-12-04T00:01:00Z',
  );
});

test('a failed write keeps the status pending; the next flush writes it; a pod gone drops its status', async () => {
  const h = held();
  h.failing(true);
  h.queue.report('default/web', ready(true));
  await h.release();
  assert.equal(h.queue.pending.size, 1);
  h.failing(false);
  void h.queue.flush();
  await h.release();
  assert.deepEqual(h.stored, ['True']);
  h.queue.report('default/gone', ready(true));
  await h.release();
  assert.equal(h.queue.pending.size, 0);
  assert.deepEqual(h.stored, ['True']);
});
