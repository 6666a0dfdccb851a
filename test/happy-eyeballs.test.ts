// Trying servers RFC 8305 style: the next one after the stagger, or at once when one fails; the first
// answer wins and the others are aborted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstToAnswer } from '../head/cli/happy-eyeballs.ts';

/** An attempt that never settles on its own (a frozen server): it only ends when aborted. */
const hangs = (aborted: string[], server: string, signal: AbortSignal) =>
  new Promise<never>((_, reject) =>
    signal.addEventListener('abort', () => {
      aborted.push(server);
      reject(new Error('aborted'));
    }),
  );

test('a silent first server: the second is started after the stagger and wins; the first is aborted', async () => {
  const started: string[] = [];
  const aborted: string[] = [];
  const result = await firstToAnswer(
    ['frozen', 'live', 'spare'],
    async (server, signal) => {
      started.push(server);
      if (server === 'frozen') return hangs(aborted, server, signal);
      return `answer of ${server}`;
    },
    20,
  );
  assert.deepEqual(result, { server: 'live', value: 'answer of live' });
  assert.deepEqual(started, ['frozen', 'live']);
  assert.deepEqual(aborted, ['frozen']);
});

test('a failure starts the next server at once; all failing gives every reason', async () => {
  const started: string[] = [];
  const result = await firstToAnswer(
    ['a', 'b', 'c'],
    async (server) => {
      started.push(server);
      throw new Error(`${server} refused`);
    },
    60_000,
  );
  assert.deepEqual(started, ['a', 'b', 'c']);
  assert.deepEqual(result, { errors: ['a: a refused', 'b: b refused', 'c: c refused'] });
  assert.deepEqual(await firstToAnswer([], async () => 1, 10), { errors: [] });
});
