// How client commands find a head: the heads last found in etcd are remembered ($NOKUBE_HOME/heads.json)
// and tried first; one that does not answer, or that serves another cluster (421), sends the client to
// etcd again. Two real clusters (each its own etcd and head). A head that did nothing (etcd's breaker was
// open) answers 503 with Retry-After, and the client sends the request again.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
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

  // Last: it stops cluster a's etcd.
  test('with etcd gone, a call the breaker held back is answered 503 with Retry-After; one sent, without', async () => {
    const url = `${a.headUrl()}/api/v1/objects/configmaps/default/found`;
    const headers = { 'x-nokube-cluster': a.env.NOKUBE_CLUSTER! };
    await a.etcd.pause();
    const seen = new Set<string>();
    try {
      await eventually(
        async () => {
          const res = await fetch(url, { headers });
          assert.equal(res.status, 503);
          const { error } = (await res.json()) as { error: string };
          assert.match(error, /^etcd unreachable at /);
          seen.add(res.headers.get('retry-after') ?? 'none');
          return seen.has('1') && seen.has('none');
        },
        30_000,
        'both answers',
      );
    } finally {
      await a.etcd.resume();
    }
    await eventually(async () => (await fetch(url, { headers })).status === 200, 30_000, 'etcd back');
  });
});

describe('a head that answers 503 with Retry-After', () => {
  /** A stand-in head: /healthz answers; each POST /api/v1/apply gets the next of `answers`. */
  const standIn = async (answers: Array<{ status: number; retryAfter?: string }>) => {
    const posts: number[] = [];
    const server = createServer((req, res) => {
      if (req.url === '/healthz') return res.end('ok');
      posts.push(Date.now());
      const { status, retryAfter } = answers[Math.min(posts.length, answers.length) - 1]!;
      res.writeHead(status, {
        'content-type': 'application/json',
        ...(retryAfter ? { 'retry-after': retryAfter } : {}),
      });
      res.end(
        JSON.stringify(
          status === 200 ? { items: [{ text: 'configmap/x created' }] } : { error: `answer ${posts.length}` },
        ),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, posts, server };
  };
  const apply = async (answers: Array<{ status: number; retryAfter?: string }>) => {
    const head = await standIn(answers);
    const home = await mkdtemp(join(tmpdir(), 'nokube-retry-'));
    try {
      const r = await runCli(
        ['apply', '-f', '-'],
        { NOKUBE_SERVER: head.url, NOKUBE_HOME: home, NOKUBE_TOKEN: '' },
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n',
      );
      return { ...r, posts: head.posts };
    } finally {
      head.server.close();
      await rm(home, { recursive: true, force: true });
    }
  };

  test('is asked again after the wait it names (seconds or a date), until it answers', async () => {
    const r = await apply([
      { status: 503, retryAfter: '1' },
      { status: 503, retryAfter: new Date(Date.now() - 1000).toUTCString() },
      { status: 200 },
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'configmap/x created\n');
    assert.equal(r.posts.length, 3);
    assert.ok(r.posts[1]! - r.posts[0]! >= 1000, `waited ${r.posts[1]! - r.posts[0]!} ms`);
  });

  test('a 503 without Retry-After is not sent again', async () => {
    const r = await apply([{ status: 503 }, { status: 200 }]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /answer 1/);
    assert.equal(r.posts.length, 1);
  });

  test('five times again at most', async () => {
    const r = await apply([{ status: 503, retryAfter: '0' }]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /answer 6/);
    assert.equal(r.posts.length, 6);
  });
});
