// The reconcile loop the routes and Service rules share (agent/loop/serial-sync.ts), on a mocked clock:
// one pass at a time, calls meanwhile folded into one more; a failed pass tried again when its handler
// says; a good one again after resyncMs (resync told first); nothing after stop.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { SerialSync } from '../agent/loop/serial-sync.ts';

/** Lets promise callbacks run (the clock stays where it is). */
const turn = async (times = 3) => {
  for (let i = 0; i < times * 10; i++) await Promise.resolve();
};

describe('SerialSync', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setImmediate'] }));
  afterEach(() => mock.timers.reset());

  test('one pass at a time; calls during a pass fold into one more', async () => {
    let inFlight = 0;
    let most = 0;
    let passes = 0;
    const gates: Array<() => void> = [];
    const sync = new SerialSync({
      pass: async () => {
        passes++;
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise<void>((r) => gates.push(r));
        inFlight--;
      },
      failed: () => 1000,
      resyncMs: 60_000,
    });
    sync.schedule();
    mock.timers.tick(0);
    await turn(1);
    assert.equal(passes, 1);
    for (let i = 0; i < 5; i++) sync.schedule();
    gates.shift()!();
    await turn(1);
    mock.timers.tick(0);
    await turn(1);
    assert.equal(passes, 2, 'five calls during the first pass: one more pass');
    gates.shift()!();
    await turn(1);
    assert.equal(passes, 2, 'none queued after it');
    assert.equal(most, 1);
    await sync.stop();
  });

  test('a failed pass is tried again after the delay its handler gives; a good one after resyncMs, resync told first', async () => {
    const order: string[] = [];
    let fail = true;
    const sync = new SerialSync({
      pass: async () => {
        order.push('pass');
        if (fail) throw new Error('no nft');
      },
      failed: (err) => {
        order.push(`failed ${err.message}`);
        return 5000;
      },
      succeeded: () => order.push('succeeded'),
      resyncMs: 30_000,
      resync: () => order.push('resync'),
    });
    sync.schedule();
    mock.timers.tick(0);
    await turn(1);
    assert.deepEqual(order, ['pass', 'failed no nft']);
    fail = false;
    mock.timers.tick(4999);
    await turn(1);
    assert.equal(order.length, 2, 'not before the delay');
    mock.timers.tick(1);
    await turn(1);
    mock.timers.tick(0);
    await turn(1);
    assert.deepEqual(order, ['pass', 'failed no nft', 'pass', 'succeeded']);
    mock.timers.tick(30_000);
    await turn(1);
    mock.timers.tick(0);
    await turn(1);
    assert.deepEqual(order.slice(4), ['resync', 'pass', 'succeeded']);
    await sync.stop();
    mock.timers.tick(60_000);
    await turn(1);
    assert.equal(order.length, 7, 'nothing after stop');
  });
});
