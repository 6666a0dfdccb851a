// Member table rules, with time passed in: join, suspect, dead, leave, fast death, restart, stale messages,
// a new incarnation's node record.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FORGET_AFTER_MS, type Heartbeat, MemberTable } from '../agent/mesh/member-table.ts';

const timing = { suspectAfterMs: 1500, deadAfterMs: 3000 };
const hb = (name: string, incarnation: number, seq: number, extra: Partial<Heartbeat> = {}): Heartbeat => ({
  name,
  peerId: `peer-${name}`,
  address: `10.0.0.${name.length}`,
  roles: ['worker'],
  labels: {},
  multiaddrs: [],
  incarnation,
  seq,
  ...extra,
});

function table() {
  return new MemberTable(hb('self', 1, 0), timing, 0);
}

describe('member table', () => {
  test('a first heartbeat is a join; the self entry is always alive', () => {
    const t = table();
    const events = t.heartbeat(hb('a', 100, 1), 10);
    assert.deepEqual(
      events.map((e) => e.type),
      ['join'],
    );
    assert.deepEqual(t.counts(), { alive: 2, suspect: 0, dead: 0, left: 0 });
    assert.equal(t.get('self')?.self, true);
    const later = t.tick(1_000_000);
    assert.deepEqual(
      later.map((e) => [e.type, e.member.name]),
      [
        ['suspect', 'a'],
        ['silent', 'a'],
      ],
    );
    assert.equal(t.get('self')?.state, 'alive');
  });

  test('silence makes a member suspect, then asks witnesses; dead only once they confirm; a heartbeat revives a suspect', () => {
    const t = table();
    t.heartbeat(hb('a', 100, 1), 0);
    assert.deepEqual(t.tick(1499), []);
    assert.deepEqual(
      t.tick(1500).map((e) => e.type),
      ['suspect'],
    );
    assert.deepEqual(
      t.heartbeat(hb('a', 100, 2), 1600).map((e) => e.type),
      ['alive'],
    );
    assert.equal(t.get('a')?.state, 'alive');
    assert.deepEqual(
      t.tick(3100).map((e) => e.type),
      ['suspect'],
    );
    assert.deepEqual(
      t.tick(4600).map((e) => e.type),
      ['silent'],
    );
    // Asked once: no second question while the witnesses are out.
    assert.deepEqual(t.tick(4700), []);
    assert.equal(t.get('a')?.state, 'suspect');
    assert.deepEqual(
      t.confirmDead('a', 100, 4800, 'silent, confirmed by b').map((e) => e.type),
      ['dead'],
    );
    assert.match(t.get('a')!.reason, /confirmed by b/);
  });

  test('an unconfirmed silence stays suspect and is asked about again; a beat cancels a verdict in flight', () => {
    const t = table();
    t.heartbeat(hb('a', 100, 1), 0);
    assert.deepEqual(
      t.tick(3000).map((e) => e.type),
      ['suspect', 'silent'],
    );
    t.unconfirmed('a', 100, 3100, 'silent to us, but heard by b');
    assert.equal(t.get('a')?.state, 'suspect');
    assert.match(t.get('a')!.reason, /heard by b/);
    assert.equal(t.nextDeadline(), 3100 + timing.suspectAfterMs);
    assert.deepEqual(t.tick(3100 + timing.suspectAfterMs - 1), []);
    assert.deepEqual(
      t.tick(3100 + timing.suspectAfterMs).map((e) => e.type),
      ['silent'],
    );
    // It speaks while the witnesses are asked: their answer no longer makes it dead.
    t.heartbeat(hb('a', 100, 2), 4700);
    assert.deepEqual(t.confirmDead('a', 100, 4800, 'late'), []);
    assert.equal(t.get('a')?.state, 'alive');
  });

  test('a pause of our own restarts every silence: no suspicion for the time we were away', () => {
    const t = table();
    t.heartbeat(hb('a', 100, 1), 0);
    // We were stopped from 500 to 30 000: on waking, the tick would see 30 s of silence.
    t.pardon(30_000);
    assert.equal(t.recentlyPaused(30_000), true);
    assert.deepEqual(t.tick(30_000), []);
    assert.deepEqual(t.tick(30_000 + 1499), []);
    assert.deepEqual(
      t.tick(30_000 + 1500).map((e) => e.type),
      ['suspect'],
    );
    // As a witness we would say we did not hear it lately (the truth), and the asker ignores us while paused.
    assert.equal(t.heardLately(t.get('a')!, 30_000), false);
    assert.equal(t.recentlyPaused(30_000 + timing.deadAfterMs), false);
  });

  test('a clock set back an hour: a member that never beats again is still suspected on time', () => {
    const t = table();
    const hour = 3_600_000;
    t.heartbeat(hb('a', 100, 1), 10 * hour);
    // An NTP step: the clock now reads an hour earlier than when `a` was last heard (PauseWatch's skew).
    t.pardon(9 * hour);
    assert.deepEqual(t.tick(9 * hour + timing.suspectAfterMs - 1), []);
    assert.deepEqual(
      t.tick(9 * hour + timing.suspectAfterMs).map((e) => e.type),
      ['suspect'],
    );
  });

  test("silence counts from when the sender's next beat is due (its grace), and a beat without grace resets it", () => {
    const t = table();
    t.heartbeat(hb('a', 100, 1, { grace: 4000 }), 0);
    assert.deepEqual(t.tick(1500 + 3999), []);
    assert.deepEqual(
      t.tick(1500 + 4000).map((e) => [e.type, e.member.name]),
      [['suspect', 'a']],
    );
    assert.deepEqual(
      t.tick(3000 + 4000).map((e) => e.type),
      ['silent'],
    );
    t.heartbeat(hb('b', 100, 1, { grace: 4000 }), 10_000);
    t.heartbeat(hb('b', 100, 2), 10_000);
    assert.deepEqual(
      t.tick(10_000 + 1500).map((e) => [e.type, e.member.name]),
      [['suspect', 'b']],
    );
  });

  test('a refused redial kills at once; only a newer message brings it back', () => {
    const t = table();
    t.heartbeat(hb('a', 100, 5), 0);
    assert.deepEqual(
      t.unreachable('peer-a', 10, 'ECONNREFUSED').map((e) => e.type),
      ['dead'],
    );
    assert.deepEqual(t.unreachable('peer-a', 11, 'again'), []);
    // A delayed copy of an old heartbeat does not revive it.
    assert.deepEqual(t.heartbeat(hb('a', 100, 5), 20), []);
    assert.equal(t.get('a')?.state, 'dead');
    // A restarted process (higher incarnation) rejoins.
    const back = t.heartbeat(hb('a', 200, 1), 30);
    assert.deepEqual(
      back.map((e) => e.type),
      ['join'],
    );
    assert.equal(t.get('a')?.state, 'alive');
    assert.equal(t.get('a')?.reason, 'restarted');
  });

  test('a record of a new incarnation lists the member alive at once; its first beat is no news; silence rules follow', () => {
    const t = table();
    t.heartbeat(hb('a', 100, 5), 0);
    t.unreachable('peer-a', 10, 'ECONNREFUSED');
    // The record of the same or an older incarnation (a record update, a late event) shows nothing.
    assert.deepEqual(t.registered(hb('a', 100, -1), 20), []);
    assert.deepEqual(t.registered(hb('a', 50, -1), 20), []);
    assert.equal(t.get('a')?.state, 'dead');
    // The restarted agent's record: alive from when it was seen, before any beat.
    assert.deepEqual(
      t.registered(hb('a', 200, -1), 30).map((e) => e.type),
      ['join'],
    );
    assert.equal(t.get('a')?.state, 'alive');
    assert.equal(t.get('a')?.since, 30);
    assert.equal(t.get('a')?.reason, 'registered again');
    // Its first beat (seq 0 or 1) is taken, and changes nothing that is reported.
    assert.deepEqual(t.heartbeat(hb('a', 200, 0), 40), []);
    assert.equal(t.get('a')?.lastSeen, 40);
    assert.equal(t.get('a')?.since, 30);
    // The same record delivered again is nothing new.
    assert.deepEqual(t.registered(hb('a', 200, -1), 50), []);
    assert.equal(t.get('a')?.lastSeen, 40);
    // A member never heard of: alive from its record; no beat after it and it is suspect, as any member.
    assert.deepEqual(
      t.registered(hb('b', 300, -1), 100).map((e) => e.type),
      ['join'],
    );
    assert.equal(t.get('b')?.reason, 'registered');
    const aboutB = (now: number) => t.tick(now).filter((e) => e.member.name === 'b');
    assert.deepEqual(aboutB(100 + timing.suspectAfterMs - 1), []);
    assert.deepEqual(
      aboutB(100 + timing.suspectAfterMs).map((e) => e.type),
      ['suspect'],
    );
    // The self entry is never touched by a record.
    assert.deepEqual(t.registered(hb('self', 999, -1), 200), []);
    assert.equal(t.get('self')?.incarnation, 1);
  });

  test('leave marks left; stale heartbeats of the same process are ignored; a restart rejoins', () => {
    const t = table();
    t.heartbeat(hb('a', 100, 1), 0);
    assert.deepEqual(
      t.leave('a', 100, 5).map((e) => e.type),
      ['left'],
    );
    assert.deepEqual(t.heartbeat(hb('a', 100, 2), 6), []);
    assert.deepEqual(t.leave('a', 100, 7), []);
    assert.deepEqual(t.leave('a', 50, 7), []);
    assert.equal(t.get('a')?.state, 'left');
    assert.deepEqual(
      t.heartbeat(hb('a', 101, 1), 8).map((e) => e.type),
      ['join'],
    );
  });

  test('an older incarnation never overrides a newer one', () => {
    const t = table();
    t.heartbeat(hb('a', 200, 1), 0);
    assert.deepEqual(t.heartbeat(hb('a', 100, 99, { address: 'old' }), 1), []);
    assert.notEqual(t.get('a')?.address, 'old');
  });

  test('label or address changes are reported as updates', () => {
    const t = table();
    t.heartbeat(hb('a', 100, 1), 0);
    assert.deepEqual(t.heartbeat(hb('a', 100, 2), 1), []);
    const events = t.heartbeat(hb('a', 100, 3, { labels: { zone: 'b' } }), 2);
    assert.deepEqual(
      events.map((e) => e.type),
      ['update'],
    );
    assert.deepEqual(t.get('a')?.labels, { zone: 'b' });
  });

  test('dead and left members are forgotten after an hour', () => {
    const t = table();
    t.heartbeat(hb('a', 100, 1), 0);
    t.leave('a', 100, 0);
    t.tick(FORGET_AFTER_MS - 1);
    assert.ok(t.get('a'));
    t.tick(FORGET_AFTER_MS);
    assert.equal(t.get('a'), undefined);
  });

  test('new timing applies to the next tick', () => {
    const t = table();
    t.heartbeat(hb('a', 100, 1), 0);
    t.setTiming({ suspectAfterMs: 100, deadAfterMs: 200 });
    assert.deepEqual(
      t.tick(250).map((e) => e.type),
      ['suspect', 'silent'],
    );
  });
});
