// The controller actor's scheduling, on real timers: kicks coalesce, one reconcile at a time, a reconcile
// that throws is retried with back-off (1 s, then 2 s), a wake fires once at the earliest time asked,
// and a stopped actor runs nothing. (No etcd here: the actor only calls the reconcile it is given;
// keepAlive is off, so it writes no alive record.)
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AgentContext } from '../agent/context.ts';
import { createLogger } from '../agent/log/logger.ts';
import { ControllerActor } from '../head/controllers/actor.ts';

const ctx = { nodeName: 'n1', log: createLogger({ node: 'n1' }, 'silent') } as unknown as AgentContext;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const at = { namespace: 'default', kind: 'Deployment', name: 'web', uid: 'u1' };

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
  test('kicks in a burst make one reconcile; a kick during a reconcile makes exactly one more', async () => {
    const { a, runs } = actor(() => sleep(200));
    for (let i = 0; i < 5; i++) a.kick();
    await sleep(100);
    assert.equal(runs.length, 1);
    for (let i = 0; i < 5; i++) a.kick();
    await sleep(600);
    assert.equal(runs.length, 2);
    a.stop();
  });

  test('a reconcile that throws is retried after 1 s, then 2 s; success ends the retries', async () => {
    const { a, runs } = actor(async (n) => {
      if (n <= 2) throw new Error(`boom ${n}`);
    });
    a.kick();
    await sleep(4000);
    assert.equal(runs.length, 3, `runs at ${runs.join(', ')} ms`);
    assert.ok(
      runs[1]! - runs[0]! >= 950 && runs[1]! - runs[0]! < 1900,
      `first retry after ${runs[1]! - runs[0]!} ms`,
    );
    assert.ok(
      runs[2]! - runs[1]! >= 1950 && runs[2]! - runs[1]! < 2900,
      `second after ${runs[2]! - runs[1]!} ms`,
    );
    await sleep(1500);
    assert.equal(runs.length, 3, 'no retry after a success');
    a.stop();
  });

  test('kickAt: the earliest wake wins and fires once', async () => {
    const { a, runs } = actor();
    a.kickAt(Date.now() + 600);
    a.kickAt(Date.now() + 200);
    a.kickAt(Date.now() + 400);
    await sleep(350);
    assert.equal(runs.length, 1);
    await sleep(600);
    assert.equal(runs.length, 1, 'the later wakes were dropped');
    a.stop();
  });

  test('a stopped actor runs nothing: neither kicks, wakes nor pending retries', async () => {
    const { a, runs } = actor(async () => {
      throw new Error('boom');
    });
    a.kick();
    await sleep(100);
    assert.equal(runs.length, 1);
    a.kickAt(Date.now() + 100);
    a.stop();
    a.kick();
    await sleep(1500);
    assert.equal(runs.length, 1);
  });
});
