// The config in a real etcd: create / configure / unchanged, compare-and-swap, bounded history, key layout.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { ConfigError } from '../agent/config/validate.ts';
import {
  CONFIG_HISTORY_LIMIT,
  ConfigConflictError,
  readConfig,
  readHistory,
  storeConfig,
} from '../agent/store/config-store.ts';
import { connectEtcd, EtcdUnreachableError } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { freePort } from './harness/ports.ts';

const config = (cluster: string, port: number) => `cluster: ${cluster}
etcd: { endpoints: [http://10.0.0.1:2379] }
head: { port: 7480 }
mesh: { port: ${port} }
nodes:
  - { name: a, address: 10.0.0.1, roles: [head], workspace: /w }
`;

describe('config store (real etcd)', () => {
  let etcd: TestEtcd;
  let client: Etcd3;
  before(async () => {
    etcd = await startTestEtcd();
    client = await connectEtcd({ endpoints: [etcd.url], dialTimeoutMs: 3000 });
  });
  after(async () => {
    client.close();
    await etcd.stop();
  });

  test('created, then unchanged, then configured; versions count up', async () => {
    assert.deepEqual(await storeConfig(client, config('s1', 1000), 'f', 'me', 'latest'), {
      outcome: 'created',
      version: 1,
    });
    assert.deepEqual(await storeConfig(client, config('s1', 1000), 'f', 'me', 'latest'), {
      outcome: 'unchanged',
      version: 1,
    });
    assert.deepEqual(await storeConfig(client, config('s1', 1001), 'f', 'me', 'latest'), {
      outcome: 'configured',
      version: 2,
    });
    const stored = await readConfig(client, 's1');
    assert.equal(stored?.version, 2);
    assert.equal(stored?.text, config('s1', 1001));
    assert.equal(await client.get(keys.config('s1')).string(), config('s1', 1001));
  });

  test('a write based on a stale read is refused and changes nothing', async () => {
    await storeConfig(client, config('s2', 1000), 'f', 'me', 'latest');
    const read = await readConfig(client, 's2');
    await storeConfig(client, config('s2', 2000), 'f', 'other', read);
    await assert.rejects(storeConfig(client, config('s2', 3000), 'f', 'me', read), ConfigConflictError);
    assert.equal((await readConfig(client, 's2'))?.text, config('s2', 2000));
    // Expecting "no config yet" when there is one is a conflict too.
    await assert.rejects(storeConfig(client, config('s2', 4000), 'f', 'me', null), ConfigConflictError);
  });

  test('an invalid config is refused before it reaches etcd', async () => {
    await assert.rejects(storeConfig(client, 'cluster: s3\n', 'bad.yaml', 'me', 'latest'), ConfigError);
    assert.equal(await readConfig(client, 's3'), null);
    assert.deepEqual(await client.getAll().prefix(keys.cluster('s3')).keys(), []);
  });

  test(`history keeps the last ${CONFIG_HISTORY_LIMIT} versions, oldest first`, async () => {
    for (let i = 0; i < CONFIG_HISTORY_LIMIT + 5; i++) {
      await storeConfig(client, config('s4', 1000 + i), 'f', `editor-${i}`, 'latest');
    }
    const history = await readHistory(client, 's4');
    assert.equal(history.length, CONFIG_HISTORY_LIMIT);
    assert.equal(history[0]!.version, 6);
    assert.equal(history.at(-1)!.version, CONFIG_HISTORY_LIMIT + 5);
    assert.equal(history.at(-1)!.by, `editor-${CONFIG_HISTORY_LIMIT + 4}`);
    assert.equal(history.at(-1)!.text, config('s4', 1000 + CONFIG_HISTORY_LIMIT + 4));
  });

  test('every key of a cluster lives under its prefix', async () => {
    await storeConfig(client, config('s5', 1000), 'f', 'me', 'latest');
    const all = await client.getAll().prefix('/nokube/s5').keys();
    assert.deepEqual(all.sort(), [keys.config('s5'), keys.configHistory('s5', 1)].sort());
    assert.ok(all.every((k) => k.startsWith(keys.cluster('s5'))));
    assert.equal(keys.configHistory('s5', 12), '/nokube/s5/config-history/000000000012');
    assert.equal(keys.node('s5', 'edge-1'), '/nokube/s5/nodes/edge-1');
  });

  test('an unreachable etcd fails fast with one clear message', async () => {
    const port = await freePort();
    const started = Date.now();
    await assert.rejects(
      connectEtcd({ endpoints: [`http://127.0.0.1:${port}`], dialTimeoutMs: 1000 }),
      (err: Error) => {
        assert.ok(err instanceof EtcdUnreachableError);
        assert.match(
          err.message,
          new RegExp(
            `^etcd unreachable at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}$`,
          ),
        );
        assert.equal(err.message.includes('\n'), false);
        return true;
      },
    );
    assert.ok(Date.now() - started < 5000);
  });
});
