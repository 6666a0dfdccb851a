// The controller actor's scheduling on node's mock clock (setTimeout and Date): kicks coalesce, one
// reconcile at a time, a reconcile that throws is retried with back-off (1 s, then 2 s), a wake fires
// once at the earliest time asked, and a stopped actor runs nothing. The clock only moves when the test
// moves it and every timer due by then has fired, so "no run after N ms" is proven, not waited for.
// (No etcd here: the actor only calls the reconcile it is given; keepAlive is off, so it writes no alive
// record.)
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import type { AgentContext } from '../agent/context.ts';
import { createLogger } from '../agent/log/logger.ts';
import { ControllerActor } from '../head/controllers/actor.ts';

const ctx = { nodeName: 'n1', log: createLogger({ node: 'n1' }, 'silent') } as unknown as AgentContext;
const at = { namespace: 'default', kind: 'Deployment', name: 'web', uid: 'u1' };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Move the mock clock by `ms` in steps (10 ms: run times exact to 10 ms), letting promise callbacks
 * run after each step. */
async function advance(ms: number, step = 10): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    mock.timers.tick(Math.min(step, ms - done));
    for (let i = 0; i < 5; i++) await turn();
  }
}

function actor(body: (n: number) => Promise<void> = async () => {}) {
  const runs: number[] = [];
  const start = Date.now();
  const a = new ControllerActor(
    ctx,
    at,
    async () => {
      runs.push(Date.now() - start);
      await body(runs.length);
    },
    false,
  );
  return { a, runs };
}

describe('ControllerActor', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  test('kicks in a burst make one reconcile; a kick during a reconcile makes exactly one more', async () => {
    const { a, runs } = actor(() => sleep(200));
    for (let i = 0; i < 5; i++) a.kick();
    await advance(100);
    assert.deepEqual(runs, [50]);
    for (let i = 0; i < 5; i++) a.kick();
    await advance(600);
    assert.deepEqual(runs, [50, 250], 'the second run starts as the first ends');
    a.stop();
  });

  test('a reconcile that throws is retried after 1 s, then 2 s; success ends the retries', async () => {
    const { a, runs } = actor(async (n) => {
      if (n <= 2) throw new Error(`boom ${n}`);
    });
    a.kick();
    await advance(4000);
    assert.deepEqual(runs, [50, 1050, 3050]);
    await advance(60_000, 500);
    assert.equal(runs.length, 3, 'no retry after a success');
    a.stop();
  });

  test('kickAt: the earliest wake wins and fires once', async () => {
    const { a, runs } = actor();
    a.kickAt(Date.now() + 600);
    a.kickAt(Date.now() + 200);
    a.kickAt(Date.now() + 400);
    await advance(350);
    assert.deepEqual(runs, [250], 'the wake at 200 ms, then the kick delay');
    await advance(60_000, 500);
    assert.equal(runs.length, 1, 'the later wakes were dropped');
    a.stop();
  });

  test('a stopped actor runs nothing: neither kicks, wakes nor pending retries', async () => {
    const { a, runs } = actor(async () => {
      throw new Error('boom');
    });
    a.kick();
    await advance(100);
    assert.equal(runs.length, 1);
    a.kickAt(Date.now() + 100);
    a.stop();
    a.kick();
    await advance(60_000, 500);
    assert.equal(runs.length, 1);
  });
});
