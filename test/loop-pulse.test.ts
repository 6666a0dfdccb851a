// The process's pulse (agent/loop/pulse.ts) and its two readers: the loop-lag histogram and the pause watch
// look on the same tick; a stall of the loop shows in both, each by its own rule.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startLoopLagMonitor } from '../agent/loop/lag.ts';
import { PAUSE_THRESHOLD_MS, PauseWatch } from '../agent/loop/pause.ts';
import { onPulse, PULSE_MS } from '../agent/loop/pulse.ts';

/** Keep the loop from running for `ms` (what a long synchronous stretch or a stopped process does). */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

/** Resolves after the pulse has ticked `n` times (the pulse's timer does not keep a process alive: this
 * wait does). */
function ticks(n: number): Promise<number[]> {
  const alive = setInterval(() => undefined, 60_000);
  return new Promise((resolve) => {
    const gaps: number[] = [];
    const off = onPulse((gap) => {
      gaps.push(gap);
      if (gaps.length < n) return;
      off();
      clearInterval(alive);
      resolve(gaps);
    });
  });
}

test('every listener hears each tick of one timer, with the time since the last tick', async () => {
  const a: number[] = [];
  const offA = onPulse((gap) => a.push(gap));
  const gaps = await ticks(3);
  offA();
  assert.ok(a.length >= 3, `the first listener heard ${a.length} ticks`);
  // One timer: the second listener's ticks are ticks the first one heard, gap for gap.
  assert.deepEqual(a.slice(-3), gaps);
  for (const g of gaps) assert.ok(g >= PULSE_MS - 5 && g < PULSE_MS + 200, `gap ${g} ms`);
});

test('the loop-lag histogram records a stall as long as it was, and a reset starts afresh', async () => {
  const lag = startLoopLagMonitor();
  try {
    await ticks(1);
    stall(600);
    await ticks(2);
    // The stall began as a tick ran: the next one was due PULSE_MS later and came when the stall ended.
    const s = lag.snapshot();
    assert.ok(s.max >= 0.3 && s.max < 1, `max lag ${s.max} s after a 600 ms stall`);
    await ticks(3);
    const quiet = lag.snapshot();
    assert.ok(quiet.max < 0.3, `max lag ${quiet.max} s with no stall since the reset`);
  } finally {
    lag.stop();
  }
});

test('the pause watch calls a stall beyond its threshold a pause, and a shorter one not', async () => {
  const pauses: number[] = [];
  const watch = new PauseWatch((gap) => pauses.push(gap));
  watch.start();
  try {
    await ticks(1);
    stall(PAUSE_THRESHOLD_MS / 2);
    await ticks(2);
    assert.deepEqual(pauses, [], 'half the threshold is no pause');
    stall(PAUSE_THRESHOLD_MS + PULSE_MS + 200);
    await ticks(2);
    assert.equal(pauses.length, 1, 'one pause');
    assert.ok(pauses[0]! >= PAUSE_THRESHOLD_MS + PULSE_MS, `gap ${pauses[0]} ms`);
    assert.equal(watch.pauses, 1);
  } finally {
    watch.stop();
  }
});
