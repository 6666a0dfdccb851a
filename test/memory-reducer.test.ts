// The agent's memory reducer (agent/loop/memory-reducer.ts) in this process: a young generation grown by
// a burst of allocations is given back by one collection; one that has not grown is left alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getHeapSpaceStatistics } from 'node:v8';
import { createLogger } from '../agent/log/logger.ts';
import { GROWN_NEW_SPACE_BYTES, startMemoryReducer } from '../agent/loop/memory-reducer.ts';

const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

test('a burst grows the young generation; reduce() shrinks it back; not grown: nothing done', () => {
  const reducer = startMemoryReducer(createLogger({ test: 'memory-reducer' }, 'silent'));
  try {
    // Objects that survive a few scavenges make V8 grow the young generation.
    let keep: object[] = [];
    for (let i = 0; i < 3e6; i++) {
      keep.push({ i, s: `x${i}` });
      if (keep.length > 2e5) keep = [];
    }
    keep = [];
    assert.ok(newSpace() > GROWN_NEW_SPACE_BYTES, `grown: ${newSpace()} bytes`);
    const ms = reducer.reduce();
    assert.equal(typeof ms, 'number');
    assert.ok(newSpace() <= GROWN_NEW_SPACE_BYTES, `shrunk: ${newSpace()} bytes`);
    assert.equal(reducer.reduce(), null, 'not grown: no collection');
  } finally {
    reducer.stop();
  }
});
