// A member listed from its node record alone (never heard: seq -1), with no connection to it, is dialled
// once it turns suspect: refused at its address, it is dead at once (its process is gone: the record is
// written only once the mesh listens), not left to the silence rules, which without witnesses cannot
// confirm it. A dial that is accepted and then goes nowhere (a frozen process, a black hole) is no proof:
// the member stays suspect. Real libp2p on loopback, one Mesh, no witnesses, a silence verdict a minute
// away: only the dial can make these members dead within the test.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import pino from 'pino';
import { PeerAdmission } from '../agent/mesh/admission.ts';
import type { MemberEvent } from '../agent/mesh/member-table.ts';
import { Mesh, refusedEverywhere } from '../agent/mesh/mesh.ts';
import { eventually } from './harness/cluster.ts';
import { freePort } from './harness/ports.ts';

const NET = 211;
const SELF = `127.${NET}.0.1`;
const GHOST = `127.${NET}.0.2`;
const MUTE = `127.${NET}.0.3`;
const TIMING = { suspectAfterMs: 400, deadAfterMs: 60_000 };

describe('a registered member never heard', { timeout: 60_000 }, () => {
  let mesh: Mesh;
  let port: number;
  const events: MemberEvent[] = [];
  const admission = new PeerAdmission();
  const accepted: Socket[] = [];
  let closed = 0;
  const mute = createServer((s) => {
    accepted.push(s);
    s.resume(); // read (and drop) what the dialler says, so that its close is seen
    s.on('error', () => undefined);
    s.on('close', () => closed++);
  });

  const newPeer = async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
  /** What the watch brings when the member's agent has written its record (a later start than ours). */
  const listFromRecord = (name: string, peerId: string, address: string) => {
    admission.admit(name, peerId);
    mesh.peerRecord(
      {
        name,
        peerId,
        address,
        roles: ['worker'],
        labels: {},
        multiaddrs: [`/ip4/${address}/tcp/${port}/p2p/${peerId}`],
        incarnation: Date.now() + 1000,
        seq: -1,
      },
      true,
    );
  };
  const of = (name: string) => events.filter((e) => e.member.name === name).map((e) => e.type);

  before(async () => {
    port = await freePort(SELF);
    await new Promise<void>((resolve, reject) => {
      mute.once('error', reject);
      mute.listen(port, MUTE, resolve);
    });
    mesh = new Mesh({
      cluster: 'never-heard',
      self: { name: 'self', address: SELF, roles: ['worker'], labels: {} },
      port,
      bootstrap: [],
      heartbeatMs: 200,
      timing: TIMING,
      privateKey: await generateKeyPair('Ed25519'),
      incarnation: Date.now(),
      admission,
      log: pino({ level: 'silent' }),
      onEvent: (e) => events.push({ type: e.type, member: { ...e.member } }),
    });
    await mesh.start();
  });
  after(async () => {
    await mesh?.stop(false);
    for (const s of accepted) s.destroy();
    await new Promise((r) => mute.close(r));
  });

  test('nothing listens at its address: suspect, then dead at once, the refusal named', async () => {
    listFromRecord('ghost', await newPeer(), GHOST);
    const dead = await eventually(
      () => events.find((e) => e.member.name === 'ghost' && e.type === 'dead'),
      10_000,
      'the ghost dead',
    );
    assert.deepEqual(of('ghost'), ['join', 'suspect', 'dead']);
    assert.match(dead.member.reason, /^registered, never heard, its address refused a dial: .*ECONNREFUSED/);
    assert.ok(dead.member.since - dead.member.lastSeen < TIMING.deadAfterMs, 'not by the silence rules');
  });

  test('its address takes the connection and says nothing: suspect, not dead', async () => {
    listFromRecord('mute', await newPeer(), MUTE);
    await eventually(() => of('mute').includes('suspect'), 10_000, 'the mute member suspect');
    // The dial made on the suspicion reached the listener and was given up (its timeout): its verdict is in.
    await eventually(() => closed >= 1, 10_000, 'the dial to the mute member given up');
    assert.deepEqual(of('mute'), ['join', 'suspect']);
    assert.equal(mesh.table.get('mute')?.state, 'suspect');
  });
});

describe('refusedEverywhere', () => {
  const refused = (addr: string) => new Error(`connect ECONNREFUSED ${addr}`);
  test('one address refused: its message; timed out or reset: no proof', () => {
    assert.equal(refusedEverywhere(refused('10.0.0.1:7946')), 'connect ECONNREFUSED 10.0.0.1:7946');
    assert.equal(refusedEverywhere(new Error('The operation was aborted due to timeout')), undefined);
    assert.equal(refusedEverywhere(new Error('read ECONNRESET')), undefined);
  });
  test('several addresses: a proof only when every one refused', () => {
    const all = new AggregateError(
      [refused('10.0.0.1:1'), refused('10.0.0.2:1')],
      'All multiaddr dials failed',
    );
    assert.equal(refusedEverywhere(all), 'connect ECONNREFUSED 10.0.0.1:1');
    const some = new AggregateError(
      [refused('10.0.0.1:1'), new Error('timeout')],
      'All multiaddr dials failed',
    );
    assert.equal(refusedEverywhere(some), undefined);
    assert.equal(refusedEverywhere(new AggregateError([], 'none')), undefined);
  });
});
