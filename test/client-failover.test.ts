// Clients against frozen processes (SIGSTOP: the kernel still completes TCP handshakes, nothing answers):
// a frozen head first in the remembered list costs the CLI a fraction of a second, not a request timeout;
// a frozen etcd is one line in our words within seconds. One cluster of two heads, real processes.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestCluster, eventually, getJson, runCli, type TestCluster } from './harness/cluster.ts';
import { freezeProcess } from './harness/frozen.ts';

describe('clients fail over fast', { timeout: 180_000 }, () => {
  let c: TestCluster;
  const headOf = (node: string) => `http://${c.nodes.find((n) => n.name === node)!.address}:${c.headPort}`;
  const headsFile = () => join(c.env.NOKUBE_HOME!, 'heads.json');
  const key = () => `${c.env.NOKUBE_CLUSTER}@${c.env.NOKUBE_ETCD}`;
  const remembered = async () =>
    (JSON.parse(await readFile(headsFile(), 'utf8')) as Record<string, string[]>)[key()];
  /** Run `fn` while `pid` is stopped; it is continued whatever happens. */
  const frozen = async <T>(pid: number, fn: () => Promise<T>): Promise<T> => {
    try {
      await freezeProcess(pid);
      return await fn();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  };
  const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
    const t0 = performance.now();
    const value = await fn();
    return [value, performance.now() - t0];
  };

  before(async () => {
    c = await createTestCluster({ nodes: 2, heads: 2, net: 64 });
    await Promise.all([c.startAgent('n1'), c.startAgent('n2')]);
    await Promise.all(
      ['n1', 'n2'].map((n) => eventually(() => getJson(`${headOf(n)}/readyz`), 30_000, `head ${n} ready`)),
    );
  });
  after(async () => {
    await c?.stop();
  });

  test('a frozen head first in heads.json: apply and get answer from the other head at once, which is remembered first', async () => {
    await mkdir(c.env.NOKUBE_HOME!, { recursive: true });
    await writeFile(headsFile(), JSON.stringify({ [key()]: [headOf('n1'), headOf('n2')] }));
    const [[applied, appliedMs], [got, gotMs]] = await frozen(c.agents.get('n1')!.process.pid!, async () => [
      await timed(() =>
        runCli(['apply', '-f', '-'], c.env, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fast}\n'),
      ),
      await timed(() => runCli(['get', 'configmap', 'fast', '-o', 'name'], c.env)),
    ]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.stdout, 'configmap/fast created\n');
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, 'configmap/fast\n');
    // Start-up included (~1 s from source); before, each waited 30 s for the frozen head.
    for (const ms of [appliedMs, gotMs]) assert.ok(ms < 5000, `took ${Math.round(ms)} ms`);
    assert.deepEqual(await remembered(), [headOf('n2'), headOf('n1')]);
  });

  test('the only head slower than 2 s to answer (frozen 4 s): the CLI waits for it', async () => {
    const n2 = c.agents.get('n2')!.process.pid!;
    // Before, the CLI gave up after 2 s with "no head answered" (a loaded head in a CI run).
    const got = await frozen(n2, async () => {
      const thaw = setTimeout(() => process.kill(n2, 'SIGCONT'), 4000);
      try {
        return await runCli(['get', 'configmap', 'fast', '-o', 'name'], {
          ...c.env,
          NOKUBE_SERVER: headOf('n2'),
        });
      } finally {
        clearTimeout(thaw);
      }
    });
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, 'configmap/fast\n');
  });

  test('a frozen etcd: a command through a head and one reading etcd fail within seconds, in our words', async () => {
    await eventually(() => getJson(`${headOf('n2')}/readyz`), 30_000, 'head n2 ready');
    await mkdir(c.env.NOKUBE_HOME!, { recursive: true });
    await writeFile(headsFile(), JSON.stringify({ [key()]: [headOf('n2')] }));
    const [[viaHead, viaHeadMs], [direct, directMs]] = await frozen(c.etcd.process.pid!, () =>
      Promise.all([
        timed(() => runCli(['get', 'pods'], c.env)),
        timed(() => runCli(['get', 'nodes'], c.env)),
      ]),
    );
    for (const r of [viaHead, direct]) {
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, new RegExp(`^error: etcd unreachable at ${c.etcd.url}: `));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /circuit breaker/i);
    }
    assert.match(direct.stderr, /no answer within 5000 ms/);
    // etcd's deadline (etcd.dialTimeoutMs, 5000 by default) plus start-up (seconds on a loaded machine);
    // before, about a minute.
    for (const ms of [viaHeadMs, directMs]) assert.ok(ms < 20_000, `took ${Math.round(ms)} ms`);
  });
});
