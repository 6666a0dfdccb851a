// Deploy over SSH end to end: 3 netns hosts with sshd, etcd on the root side (their gateway), the built
// binary uploaded and run as a process service on each. From nothing -> all registered; rerun -> no change;
// a label on one node -> only that node restarted; a wrong host key -> the run stops naming that node.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { stringify } from 'yaml';
import { validateConfigText } from '../agent/config/validate.ts';
import { fileSha256 } from '../agent/deploy/checksum.ts';
import { type DeployOptions, deployOverSsh } from '../agent/deploy/deploy.ts';
import { type LocalBinary, observeNode } from '../agent/deploy/node-deploy.ts';
import { nodeTarget } from '../agent/deploy/node-target.ts';
import { openSession } from '../agent/deploy/ssh/session.ts';
import { storeConfig } from '../agent/store/config-store.ts';
import { createEtcd } from '../agent/store/etcd.ts';
import { listNodes } from '../agent/store/node-registry.ts';
import { REPO } from './harness/cluster.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { startTestHosts, type TestHosts } from './harness/hosts.ts';

describe('new-or-update over SSH (3 netns hosts)', { timeout: 300_000 }, () => {
  let th: TestHosts;
  let etcdServer: TestEtcd;
  let etcd: Etcd3;
  let binary: LocalBinary;
  const out: string[] = [];

  const configText = (labels: Record<string, Record<string, string>> = {}, knownHosts?: string) =>
    stringify({
      cluster: 'deploy-test',
      etcd: { endpoints: [etcdServer.url] },
      head: { port: 7480 },
      mesh: { port: 7946 },
      nodes: th.hosts.map((h, i) => ({
        name: h.name,
        address: h.address,
        roles: i === 0 ? ['head', 'worker'] : ['worker'],
        labels: labels[h.name] ?? {},
        workspace: h.workspaceDir,
        ssh: {
          user: th.user,
          port: 22,
          key: th.privateKeyPath,
          knownHosts: i === 2 && knownHosts ? knownHosts : th.knownHostsPath,
          installDir: h.installDir,
        },
      })),
    });

  const run = (text: string, dryRun = false) => {
    const config = validateConfigText(text, 'cluster.yaml').config;
    const o: DeployOptions = {
      config,
      binary,
      dryRun,
      confirm: async () => true,
      storeConfig: async () => {
        await storeConfig(etcd, text, 'cluster.yaml', 'deploy-test', 'latest');
      },
      etcd: async () => etcd,
      out: (t) => out.push(t),
      sshTimeoutMs: 5000,
      registerTimeoutMs: 60_000,
    };
    return deployOverSsh(o);
  };

  const pids = async (text: string) => {
    const config = validateConfigText(text, 'cluster.yaml').config;
    const res: Record<string, number | null> = {};
    for (const n of config.nodes) {
      const t = nodeTarget(config, n);
      const s = await openSession(t.node, 5000);
      try {
        res[n.name] = (await observeNode(s, t))?.service.pid ?? null;
      } finally {
        s.close();
      }
    }
    return res;
  };

  before(async () => {
    th = await startTestHosts(3);
    etcdServer = await startTestEtcd(th.gateway);
    etcd = await createEtcd({ endpoints: [etcdServer.url], dialTimeoutMs: 2000 });
    // A copy: other work may rebuild dist/nokube meanwhile.
    const dir = await mkdtemp(join(tmpdir(), 'nokube-deploy-bin-'));
    const path = join(dir, 'nokube');
    await copyFile(join(REPO, 'dist', 'nokube'), path);
    binary = { path, sha256: await fileSha256(path) };
  });
  after(async () => {
    if (th) {
      const text = configText();
      const config = validateConfigText(text, 'cluster.yaml').config;
      for (const n of config.nodes) {
        const t = nodeTarget(config, n);
        const s = await openSession(t.node, 5000).catch(() => null);
        if (!s) continue;
        await s
          .exec([
            t.binaryPath,
            'agent',
            'op',
            Buffer.from(JSON.stringify({ op: 'stop', service: t.service })).toString('base64'),
          ])
          .catch(() => {});
        s.close();
      }
    }
    etcd?.close();
    await etcdServer?.stop();
    await th?.stop();
    if (out.length) process.stdout.write(`# deploy output:\n${out.join('')}`);
  });

  test('from nothing: a dry run plans an install on every host and changes nothing', async () => {
    const { plans } = await run(configText(), true);
    assert.deepEqual(
      plans.map((p) => p.change),
      ['install', 'install', 'install'],
    );
    assert.deepEqual(await pids(configText()), { h0: null, h1: null, h2: null });
  });

  test('from nothing: agents installed and running, every node registered in etcd', async () => {
    const { rows } = await run(configText());
    assert.deepEqual(
      rows.map((r) => [r.node, r.change, r.state]),
      th.hosts.map((h) => [h.name, 'install', 'running']),
    );
    const nodes = await listNodes(etcd, 'deploy-test');
    assert.deepEqual(
      nodes.map((n) => n.name),
      ['h0', 'h1', 'h2'],
    );
  });

  test('rerun: no change on any host', async () => {
    const before = await pids(configText());
    const { plans } = await run(configText());
    assert.deepEqual(
      plans.map((p) => p.change),
      ['nothing to do', 'nothing to do', 'nothing to do'],
    );
    assert.deepEqual(await pids(configText()), before);
    assert.match(out.join(''), /No change on any host\./);
  });

  test('a label on h1: only h1 restarted', async () => {
    const before = await pids(configText());
    const text = configText({ h1: { zone: 'b' } });
    const { plans } = await run(text);
    assert.deepEqual(
      plans.map((p) => p.change),
      ['nothing to do', 'config change', 'nothing to do'],
    );
    const now = await pids(text);
    assert.equal(now.h0, before.h0);
    assert.equal(now.h2, before.h2);
    assert.notEqual(now.h1, before.h1);
    const h1 = (await listNodes(etcd, 'deploy-test')).find((n) => n.name === 'h1');
    assert.deepEqual(h1?.labels, { zone: 'b' });
  });

  test('a wrong host key for h2: the run stops naming h2 and the step; the others untouched', async () => {
    const text = configText({ h1: { zone: 'b' } });
    const before = await pids(text);
    const wrong = join(th.hosts[2]!.dir, 'known_hosts.wrong');
    await writeFile(wrong, `${th.hosts[2]!.address} ${th.hosts[0]!.hostKey}\n`);
    await assert.rejects(
      run(configText({ h0: { zone: 'a' }, h1: { zone: 'b' } }, wrong)),
      /^Error: h2: connect: .*host key SHA256:\S+ does not match the key in .*known_hosts\.wrong; refusing to connect$/,
    );
    assert.deepEqual(await pids(text), before);
  });
});
