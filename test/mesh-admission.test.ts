// Mesh admission (issue 15, item 3): a libp2p peer that holds the mesh key but is named by no node record
// never becomes a member (the head's GET /api/v1/members), its tries are refused and counted
// (nokube_mesh_refused_total), and a registered agent still joins; a record naming the peer admits it, and
// deleting that record refuses it again. The peer is our own Mesh (heartbeats and all) outside any agent.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import pino from 'pino';
import { PeerAdmission } from '../agent/mesh/admission.ts';
import type { Member } from '../agent/mesh/member-table.ts';
import { Mesh } from '../agent/mesh/mesh.ts';
import { readNetworkKey } from '../agent/mesh/peer-key.ts';
import { keys } from '../agent/store/keys.ts';
import { listNodes, type NodeRecord } from '../agent/store/node-registry.ts';
import { createTestCluster, eventually, getJson, runCli, type TestCluster } from './harness/cluster.ts';

const NET = 93;
const OUTSIDER_ADDRESS = `127.${NET}.0.99`;
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
});
