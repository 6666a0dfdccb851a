// What witnesses' answers mean for a silent member: dead only when at least one answered and none heard it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeAnswers } from '../agent/mesh/witness.ts';

test('confirmed only when someone answered and nobody heard the member', () => {
  assert.equal(judgeAnswers([{ witness: 'b', heard: false }]).confirmed, true);
  assert.equal(
    judgeAnswers([
      { witness: 'b', heard: false },
      { witness: 'c', heard: null },
    ]).confirmed,
    true,
  );
  const heard = judgeAnswers([
    { witness: 'b', heard: false },
    { witness: 'c', heard: true },
  ]);
  assert.equal(heard.confirmed, false);
  assert.match(heard.reason, /heard by c/);
  // Alone, or cut off from every witness: no verdict from us (the member's etcd lease decides).
  assert.match(judgeAnswers([]).reason, /no other member/);
  assert.equal(judgeAnswers([{ witness: 'b', heard: null }]).confirmed, false);
});
