// Mesh admission (issue 15, item 3): a libp2p peer that holds the mesh key but is named by no node record
// never becomes a member (the head's GET /api/v1/members), its tries are refused and counted
// (nokube_mesh_refused_total), and a registered agent still joins; a record naming the peer admits it, and
// deleting that record refuses it again. The peer is our own Mesh (heartbeats and all) outside any agent.
// A record of a new incarnation, as etcd's watch brings it, is a member alive at once (a restarted agent is
// in every table one etcd write after its start); one that never beats is suspected as any member, and
// found dead when its address then refuses a dial.
// Cut off from etcd (stopped), agents keep admitting the peers they last knew, also across a restart.
// Then PeerAdmission alone (admit, replace, revoke, the gater) and the peers cache it starts from.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import pino from 'pino';
import { PeerAdmission } from '../agent/mesh/admission.ts';
import type { Member } from '../agent/mesh/member-table.ts';
import { Mesh } from '../agent/mesh/mesh.ts';
import { readNetworkKey } from '../agent/mesh/peer-key.ts';
import { readPeersCache, writePeersCache } from '../agent/state/config-cache.ts';
import { incarnationPath } from '../agent/state/incarnation.ts';
import { keys } from '../agent/store/keys.ts';
import { listNodes, type NodeRecord } from '../agent/store/node-registry.ts';
import { createTestCluster, eventually, getJson, runCli, type TestCluster } from './harness/cluster.ts';

const NET = 93;
const OUTSIDER_ADDRESS = `127.${NET}.0.99`;
const GHOST_ADDRESS = `127.${NET}.0.98`;
const TIMING = { suspectAfterMs: 600, deadAfterMs: 1200 };

describe('mesh admission', { timeout: 120_000 }, () => {
  let c: TestCluster;
  let outsider: Mesh | undefined;
  const outsiderAdmits = new PeerAdmission();
  const keyFile = join(tmpdir(), `nokube-test-admission-${process.pid}.key`);

  const members = async () => (await getJson<{ items: Member[] }>(`${c.headUrl()}/api/v1/members`)).items;
  /** n1's refusals, all reasons summed. */
  const refused = async () => {
    const text = await (await fetch(`${c.agentUrl('n1')}/metrics`)).text();
    let n = 0;
    for (const m of text.matchAll(/^nokube_mesh_refused_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
    return n;
  };
  const record = async (name: string) =>
    eventually(
      async () => (await c.withEtcd((e) => listNodes(e, c.name))).find((r) => r.name === name),
      30_000,
      `${name}'s node record`,
    );

  before(async () => {
    const made = await runCli(['mesh-key', keyFile]);
    assert.equal(made.code, 0, made.stderr);
    c = await createTestCluster({
      nodes: 2,
      heads: 1,
      net: NET,
      heartbeatMs: 200,
      meshExtra: `  privateNetworkKeyFile: ${keyFile}\n  suspectAfterMs: ${TIMING.suspectAfterMs}\n  deadAfterMs: ${TIMING.deadAfterMs}\n`,
    });
    await c.startAgent('n1');
  });
  after(async () => {
    await outsider?.stop(false);
    await c?.stop();
    await rm(keyFile, { force: true });
  });

  test('a peer with the mesh key but no node record is refused and never a member; a registered agent joins', async () => {
    const n1 = await record('n1');
    // The outsider itself lets the agents in: what is tested is that they do not let it in.
    outsiderAdmits.admit('n1', n1.peerId);
    outsider = new Mesh({
      cluster: c.name,
      self: { name: 'outsider', address: OUTSIDER_ADDRESS, roles: ['worker'], labels: {} },
      port: c.meshPort,
      bootstrap: [`${n1.address}:${c.meshPort}`],
      heartbeatMs: 200,
      timing: TIMING,
      privateKey: await generateKeyPair('Ed25519'),
      networkKey: await readNetworkKey(keyFile),
      incarnation: Date.now(),
      admission: outsiderAdmits,
      log: pino({ level: 'silent' }),
    });
    await outsider.start();
    const id = outsider.peerId;
    await eventually(
      () => c.agents.get('n1')!.output().includes(id),
      15_000,
      'n1 to log the refusal of the outsider',
    );
    assert.ok((await refused()) > 0, 'counted in nokube_mesh_refused_total');

    await c.startAgent('n2');
    outsiderAdmits.admit('n2', (await record('n2')).peerId);
    await eventually(
      async () => (await members()).find((m) => m.name === 'n2')?.state === 'alive',
      30_000,
      'n2 to join',
    );
    assert.deepEqual(
      (await members()).map((m) => m.name),
      ['n1', 'n2'],
    );
    // Nobody let it in, so it heard nobody either.
    assert.deepEqual(
      outsider.table.list().map((m) => m.name),
      ['outsider'],
    );
  });

  test('a node record naming the peer admits it; deleting the record refuses it again', async () => {
    const m = outsider!;
    const n1 = await record('n1');
    const { lease: _lease, api: _api, ...base } = n1;
    const rec: NodeRecord = {
      ...base,
      name: 'outsider',
      address: OUTSIDER_ADDRESS,
      roles: ['worker'],
      labels: {},
      peerId: m.peerId,
      multiaddrs: m.multiaddrs,
    };
    const key = keys.node(c.name, 'outsider');
    await c.withEtcd(async (e) => {
      await e.put(key).value(JSON.stringify(rec));
    });
    await eventually(
      async () => (await members()).find((x) => x.name === 'outsider')?.state === 'alive',
      15_000,
      'the peer to be a member once a record names it',
    );

    const before = await refused();
    await c.withEtcd(async (e) => {
      await e.delete().key(key);
    });
    await eventually(async () => (await refused()) > before, 15_000, 'n1 to refuse the peer again');
    await eventually(
      async () => (await members()).find((x) => x.name === 'outsider')?.state !== 'alive',
      15_000,
      'the peer to stop being an alive member',
    );
    // Its connections were closed and it cannot open new ones.
    await eventually(() => m.connectedPeers() === 0, 15_000, 'the peer to have no connection left');
  });

  test('a node record of a new incarnation, as the watch brings it, is a member alive at once; never heard, it is suspected as any, and dead once its address refuses', async () => {
    const { lease: _lease, api: _api, ...base } = await record('n1');
    const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
    // Nothing listens at its address: no connection, no beat — only the record says it started.
    const rec: NodeRecord = {
      ...base,
      name: 'ghost',
      address: GHOST_ADDRESS,
      roles: ['worker'],
      labels: {},
      peerId: id,
      multiaddrs: [`/ip4/${GHOST_ADDRESS}/tcp/${c.meshPort}/p2p/${id}`],
      incarnation: Date.now(),
      startedAt: new Date().toISOString(),
    };
    const key = keys.node(c.name, 'ghost');
    const said = (msg: string) =>
      c.agents
        .get('n1')!
        .output()
        .split('\n')
        .filter((l) => l.includes('"ghost"'))
        .map((l) => JSON.parse(l) as { msg: string; state: string; reason: string; time: string })
        .find((l) => l.msg === msg);
    try {
      await c.withEtcd((e) => e.put(key).value(JSON.stringify(rec)).exec());
      const joined = await eventually(() => said('member join'), 15_000, 'n1 to list the ghost');
      assert.equal(joined.state, 'alive');
      assert.equal(joined.reason, 'registered');
      const suspected = await eventually(() => said('member suspect'), 15_000, 'n1 to suspect the ghost');
      assert.match(suspected.reason, /^no heartbeat for \d+ ms$/);
      assert.ok(Date.parse(suspected.time) - Date.parse(joined.time) >= TIMING.suspectAfterMs - 20);
      // Suspected with no connection to it: dialled, refused (nothing listens there), dead at once — by
      // n1's own dial, or by n2's, which tells n1, whose dial is refused too.
      const dead = await eventually(() => said('member dead'), 15_000, 'n1 to find the ghost dead');
      assert.match(
        dead.reason,
        /^(registered, never heard, its address refused a dial|another member found it dead, and a dial here was refused): .*ECONNREFUSED/,
      );
    } finally {
      await c.withEtcd((e) => e.delete().key(key).exec());
    }
  });

  test('cut off from etcd, agents keep admitting the peers they last knew (also across a restart)', async () => {
    const was = (await members()).find((x) => x.name === 'n2')!;
    await c.etcd.pause();
    try {
      // n1 cannot delete n2's record on its verdict, and n2 starts from its caches (config, peers).
      await c.agents.get('n2')!.kill('SIGKILL');
      await c.startAgent('n2');
      await eventually(
        async () => {
          const n2 = (await members()).find((x) => x.name === 'n2');
          return n2?.state === 'alive' && n2.incarnation > was.incarnation;
        },
        60_000,
        'the restarted n2 to be an alive member again while etcd is down',
      );
    } finally {
      await c.etcd.resume();
    }
  });
});

describe('an agent whose clock is behind its last start', { timeout: 120_000 }, () => {
  // An edge host without a real-time clock boots with the time it last saved, often before its previous
  // agent's start: peers ignore an incarnation lower than the one they hold (a stale message), so the
  // restarted agent would be dead in their tables for the hour they keep the old one. Its incarnation is
  // never lower than the last one (agent/state/incarnation.ts).
  let c: TestCluster;
  before(async () => {
    c = await createTestCluster({
      nodes: 2,
      heads: 1,
      net: 212,
      heartbeatMs: 200,
      meshExtra: `  suspectAfterMs: ${TIMING.suspectAfterMs}\n  deadAfterMs: ${TIMING.deadAfterMs}\n`,
    });
    await Promise.all([c.startAgent('n1'), c.startAgent('n2')]);
  });
  after(async () => {
    await c?.stop();
  });
  const n2 = async () =>
    (await getJson<{ items: Member[] }>(`${c.headUrl()}/api/v1/members`)).items.find((m) => m.name === 'n2');
  const is = (state: string, incarnation: number) => async () => {
    const m = await n2();
    return m?.state === state && m.incarnation === incarnation;
  };

  test('killed and started again with the clock an hour behind: a new incarnation, alive in the peers', async () => {
    const file = incarnationPath(join(c.dir, 'ws', 'n2'));
    // n2's last start an hour later than this clock says: as if the clock had gone back an hour since.
    const first = await eventually(
      async () => {
        const m = await n2();
        return m?.state === 'alive' ? m : undefined;
      },
      30_000,
      'n2 alive',
    );
    assert.equal((await readFile(file, 'utf8')).trim(), String(first.incarnation));
    const last = Date.now() + 3_600_000;
    await c.agents.get('n2')!.kill('SIGKILL');
    await writeFile(file, `${last}\n`);
    await c.startAgent('n2');
    await eventually(is('alive', last + 1), 30_000, 'n2 alive, one past its last start');
    await c.agents.get('n2')!.kill('SIGKILL');
    await eventually(is('dead', last + 1), 30_000, 'n2 found dead by n1');
    await c.startAgent('n2');
    await eventually(is('alive', last + 2), 30_000, 'n2 alive again as a newer incarnation');
    assert.equal((await readFile(file, 'utf8')).trim(), String(last + 2));
  });
});

describe('PeerAdmission', () => {
  /** The gater only asks a peer id for its string. */
  const peer = (id: string) => ({ toString: () => id }) as unknown as PeerId;

  test('a record admits its peer id; a new peer id of the node replaces the old; a deleted record revokes', () => {
    const seen: string[] = [];
    const a = new PeerAdmission();
    a.listen({
      admitted: (id, wasRefused) => seen.push(`+${id}${wasRefused ? ' (was refused)' : ''}`),
      revoked: (id) => seen.push(`-${id}`),
    });
    assert.equal(a.check('p1', 'stream'), false);
    a.admit('n1', 'p1');
    a.admit('n1', 'p1');
    assert.equal(a.check('p1', 'stream'), true);
    assert.equal(a.nodeOf('p1'), 'n1');
    a.admit('n1', 'p2');
    assert.equal(a.admits('p1'), false);
    a.forget('n1');
    assert.equal(a.admits('p2'), false);
    // A record without a peer id admits nothing, and its delete revokes nothing.
    a.admit('n2', '');
    assert.equal(a.admits(''), false);
    a.forget('n2');
    assert.deepEqual(seen, ['+p1 (was refused)', '-p1', '+p2', '-p2']);
    assert.deepEqual(a.refused, { connection: 0, stream: 1, message: 0, name: 0 });
  });

  test('the gater: no connection either way unless admitted; each refused peer told once', () => {
    const told: string[] = [];
    const a = new PeerAdmission((id, reason) => told.push(`${id} ${reason}`));
    const g = a.gater();
    a.admit('n1', 'in');
    assert.equal(g.denyInboundEncryptedConnection!(peer('in'), {} as never), false);
    assert.equal(g.denyOutboundEncryptedConnection!(peer('in'), {} as never), false);
    assert.equal(g.denyInboundEncryptedConnection!(peer('out'), {} as never), true);
    assert.equal(g.denyOutboundEncryptedConnection!(peer('out'), {} as never), true);
    a.refuse('out', 'message');
    assert.deepEqual(told, ['out connection']);
    assert.deepEqual(a.refused, { connection: 2, stream: 0, message: 1, name: 0 });
  });

  test('the peers cache keeps peer ids (edge autonomy across a restart); an old cache gives them from /p2p/', async () => {
    const ws = await mkdtemp(join(tmpdir(), 'nokube-peers-cache-'));
    try {
      await writePeersCache(ws, { n2: { peerId: 'p2', multiaddrs: ['/ip4/10.0.0.2/tcp/7946/p2p/p2'] } });
      assert.deepEqual(await readPeersCache(ws), {
        n2: { peerId: 'p2', multiaddrs: ['/ip4/10.0.0.2/tcp/7946/p2p/p2'] },
      });
      await mkdir(join(ws, 'agent'), { recursive: true });
      await writeFile(
        join(ws, 'agent', 'peers-cache.json'),
        JSON.stringify({ n3: ['/ip4/10.0.0.3/tcp/7946/p2p/p3'], n4: ['/ip4/10.0.0.4/tcp/7946'] }),
      );
      assert.deepEqual(await readPeersCache(ws), {
        n3: { peerId: 'p3', multiaddrs: ['/ip4/10.0.0.3/tcp/7946/p2p/p3'] },
        n4: { peerId: '', multiaddrs: ['/ip4/10.0.0.4/tcp/7946'] },
      });
    } finally {
      await rm(ws, { recursive: true, force: true });
    }
  });
});
