// atMost (agent/loop/at-most.ts): jobs start in order, never more than the limit at once; after a failure
// no new job starts and the first failure is thrown once the started ones have settled.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { atMost } from '../agent/loop/at-most.ts';

/** Jobs that each wait for the test to finish them; records starts and the most running at once. */
function gatedJobs(n: number) {
  const started: number[] = [];
  const finish: Array<(err?: Error) => void> = [];
  let running = 0;
  let most = 0;
  const jobs = Array.from({ length: n }, (_, i) => async () => {
    started.push(i);
    most = Math.max(most, ++running);
    try {
      await new Promise<void>((resolve, reject) => {
        finish[i] = (err) => (err ? reject(err) : resolve());
      });
    } finally {
      running--;
    }
  });
  return { jobs, started, finish, most: () => most };
}

const settle = () => new Promise((r) => setImmediate(r));

test('at most the limit at once, started in order, all of them', async () => {
  const g = gatedJobs(10);
  const done = atMost(3, g.jobs);
  await settle();
  assert.deepEqual(g.started, [0, 1, 2]);
  g.finish[1]!();
  await settle();
  assert.deepEqual(g.started, [0, 1, 2, 3]);
  for (let i = 0; i < 10; i++) {
    g.finish[i]?.();
    await settle();
  }
  await done;
  assert.deepEqual(g.started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(g.most(), 3);
});

test('a failure: nothing new starts, the started ones settle, the first failure is thrown', async () => {
  const g = gatedJobs(10);
  let settled = false;
  const done = atMost(3, g.jobs).finally(() => {
    settled = true;
  });
  await settle();
  g.finish[0]!(new Error('first'));
  await settle();
  g.finish[1]!(new Error('second'));
  await settle();
  assert.deepEqual(g.started, [0, 1, 2]);
  assert.equal(settled, false, 'job 2 still running');
  g.finish[2]!();
  await assert.rejects(done, /^Error: first$/);
  assert.deepEqual(g.started, [0, 1, 2]);
});

test('no jobs: done at once', async () => {
  await atMost(4, []);
});
