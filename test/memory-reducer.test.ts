// The agent's memory reducer (agent/loop/memory-reducer.ts) in this process: a young generation grown by
// a burst of allocations is given back by one collection; one that has not grown is left alone, and so
// is a big heap (its collection would stop the loop too long).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getHeapSpaceStatistics } from 'node:v8';
import { createLogger } from '../agent/log/logger.ts';
import { GROWN_NEW_SPACE_BYTES, startMemoryReducer } from '../agent/loop/memory-reducer.ts';

/** Objects that survive a few scavenges make V8 grow the young generation. */
function growYoungGeneration(): void {
  let keep: object[] = [];
  for (let i = 0; i < 3e6; i++) {
    keep.push({ i, s: `x${i}` });
    if (keep.length > 2e5) keep = [];
  }
}

const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

test('a burst grows the young generation; reduce() shrinks it back; not grown: nothing done', () => {
  // No ceiling: what the test allocates (garbage included) must not decide.
  const reducer = startMemoryReducer(createLogger({ test: 'memory-reducer' }, 'silent'), Infinity);
  try {
    growYoungGeneration();
    assert.ok(newSpace() > GROWN_NEW_SPACE_BYTES, `grown: ${newSpace()} bytes`);
    const ms = reducer.reduce();
    assert.equal(typeof ms, 'number');
    assert.ok(newSpace() <= GROWN_NEW_SPACE_BYTES, `shrunk: ${newSpace()} bytes`);
    assert.equal(reducer.reduce(), null, 'not grown: no collection');
  } finally {
    reducer.stop();
  }
});

test('a heap above the ceiling is left alone, grown young generation or not', () => {
  // The heap in use counts garbage not yet collected: a ceiling below anything it can be.
  const reducer = startMemoryReducer(createLogger({ test: 'memory-reducer' }, 'silent'), 1);
  try {
    growYoungGeneration();
    assert.ok(newSpace() > GROWN_NEW_SPACE_BYTES, `grown: ${newSpace()} bytes`);
    assert.equal(reducer.reduce(), null);
    assert.ok(newSpace() > GROWN_NEW_SPACE_BYTES, 'left as it was');
  } finally {
    reducer.stop();
  }
});
