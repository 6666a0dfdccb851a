// How client commands find a head: the heads last found in etcd are remembered ($NOKUBE_HOME/heads.json)
// and tried first; one that does not answer, or that serves another cluster (421), sends the client to
// etcd again. Two real clusters (each its own etcd and head).
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestCluster, eventually, getJson, runCli, type TestCluster } from './harness/cluster.ts';
import { freePort } from './harness/ports.ts';

describe('head discovery', { timeout: 120_000 }, () => {
  let a: TestCluster;
  let b: TestCluster;
  const heads = () => join(a.env.NOKUBE_HOME!, 'heads.json');
  const key = () => `${a.env.NOKUBE_CLUSTER}@${a.env.NOKUBE_ETCD}`;
  const remembered = async () =>
    (JSON.parse(await readFile(heads(), 'utf8')) as Record<string, string[]>)[key()];

  before(async () => {
    [a, b] = await Promise.all([
      createTestCluster({ nodes: 1, net: 58 }),
      createTestCluster({ nodes: 1, net: 59 }),
    ]);
    await Promise.all([a.startAgent('n1'), b.startAgent('n1')]);
    await Promise.all(
      [a, b].map((c) => eventually(() => getJson(`${c.headUrl()}/readyz`), 30_000, 'head ready')),
    );
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  test('the first command finds the head in etcd and remembers it', async () => {
    const r = await runCli(['get', 'pods'], a.env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await remembered(), [a.headUrl()]);
  });

  test('a remembered head that is gone is skipped', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    await writeFile(heads(), JSON.stringify({ [key()]: [dead] }));
    const r = await runCli(
      ['apply', '-f', '-'],
      a.env,
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: found}\n',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'configmap/found created\n');
    assert.deepEqual(await remembered(), [a.headUrl()]);
  });

  test('a remembered head of another cluster refuses (421); the client asks etcd and reaches its own', async () => {
    await writeFile(heads(), JSON.stringify({ [key()]: [b.headUrl()] }));
    const r = await runCli(['get', 'configmap', 'found', '-o', 'name'], a.env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'configmap/found\n');
    assert.deepEqual(await remembered(), [a.headUrl()]);
    const direct = await fetch(`${b.headUrl()}/api/v1/objects/configmaps/default`, {
      headers: { 'x-nokube-cluster': a.env.NOKUBE_CLUSTER! },
    });
    assert.equal(direct.status, 421);
    assert.deepEqual(await direct.json(), {
      error: `this head serves cluster "${b.env.NOKUBE_CLUSTER}", not "${a.env.NOKUBE_CLUSTER}"`,
    });
  });
});
