// The mesh's private-network key: members with the key see each other; a node with another key cannot join
// (its record lists it, but it is never heard: suspected as any silent member).
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Member } from '../agent/mesh/member-table.ts';
import { createTestCluster, eventually, getJson, runCli, type TestCluster } from './harness/cluster.ts';

describe('mesh private-network key', { timeout: 90_000 }, () => {
  let c: TestCluster;
  const keyFile = join(tmpdir(), `nokube-test-swarm-${process.pid}.key`);
  const view = async (node: string) => {
    const n = c.nodes.find((x) => x.name === node)!;
    return (await getJson<{ items: Member[] }>(`http://${n.address}:${c.headPort}/api/v1/members`)).items;
  };

  before(async () => {
    const made = await runCli(['mesh-key', keyFile]);
    assert.equal(made.code, 0, made.stderr);
    c = await createTestCluster({
      nodes: 3,
      heads: 3,
      net: 35,
      meshExtra: `  privateNetworkKeyFile: ${keyFile}\n`,
    });
  });
  after(async () => {
    await c.stop();
    await rm(keyFile, { force: true });
  });

  test('mesh-key never overwrites', async () => {
    const again = await runCli(['mesh-key', keyFile]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists; not overwriting it/);
  });

  test('nodes holding the key form the mesh; a node with another key stays outside', async () => {
    await Promise.all([c.startAgent('n1'), c.startAgent('n2')]);
    await eventually(
      async () => (await view('n1')).filter((m) => m.state === 'alive').length === 2,
      30_000,
      'n1 and n2 to meet',
    );
    // n3 starts with a different key in the same file path.
    await rm(keyFile);
    assert.equal((await runCli(['mesh-key', keyFile])).code, 0);
    await c.startAgent('n3');
    await eventually(async () => (await view('n3')).length === 1, 30_000, 'n3 to be up (alone)');
    // Its record is in etcd, so the others list it from the record (alive at once, as any node that just
    // registered) — but nobody hears it: it turns suspect as any silent member, never heard alive.
    const silent = await eventually(
      async () => {
        const m = (await view('n1')).find((x) => x.name === 'n3');
        return m && m.state !== 'alive' && m;
      },
      30_000,
      'n1 to find n3 silent',
    );
    assert.ok(['suspect', 'dead'].includes(silent.state), silent.state);
    const heard = c.agents
      .get('n1')!
      .output()
      .split('\n')
      .filter((l) => l.includes('"member":"n3"') && l.includes('"reason":"heartbeat"'));
    assert.deepEqual(heard, []);
    // And it hears nobody.
    assert.deepEqual(
      (await view('n3')).map((m) => m.name),
      ['n3'],
    );
  });

  test('a missing key file is a clear start-up error', async () => {
    await rm(keyFile);
    const r = await runCli(['agent', '--config', c.configFile, '--node', 'n3']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^error: mesh.privateNetworkKeyFile ${keyFile}: ENOENT`));
  });
});
