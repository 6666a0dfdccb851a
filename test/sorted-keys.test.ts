// The leader caches' key order (head/controllers/sorted-keys.ts): after any sequence of adds and deletes,
// the keys are those present, in the order a sort by namespace then name gives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareText } from '../agent/text/compare.ts';
import { SortedKeys } from '../head/controllers/sorted-keys.ts';

test('adds and deletes in random order: always the sorted keys of what is present', () => {
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  // Namespaces where one is a prefix of another ('a', 'a-b'): by namespace first, not by key text.
  const namespaces = ['a', 'a-b', 'default', ''];
  const s = new SortedKeys();
  const present = new Map<string, [string, string]>();
  for (let step = 0; step < 3000; step++) {
    const ns = namespaces[random(namespaces.length)]!;
    const name = `p${random(400)}`;
    const key = ns ? `${ns}/${name}` : name;
    if (random(3) === 0) {
      s.delete(key);
      present.delete(key);
    } else {
      s.add(key, ns, name);
      present.set(key, [ns, name]);
    }
    if (step % 100 === 0 || step === 2999) {
      const want = [...present]
        .sort(([, a], [, b]) => compareText(a[0], b[0]) || compareText(a[1], b[1]))
        .map(([k]) => k);
      assert.deepEqual([...s.keys()], want, `step ${step}`);
      assert.equal(s.size, present.size);
    }
  }
});
