// etcd started by the deploy: 3 netns hosts, all heads, etcd.serve on all three (a 3-member cluster of
// the hosts' Debian etcd, each on its own address). From nothing: members started together, the config
// stored in that etcd, every agent registered through it; rerun: nothing to do; a member whose flags would
// change (ports) is refused before any host is touched.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { validateConfigText } from '../agent/config/validate.ts';
import { readConfig } from '../agent/store/config-store.ts';
import { connectEtcd, createEtcd } from '../agent/store/etcd.ts';
import { listNodes } from '../agent/store/node-registry.ts';
import { deployOverSsh } from '../head/cli/deploy/deploy.ts';
import type { LocalBinary } from '../head/cli/deploy/node-deploy.ts';
import {
  copiedBinary,
  deployConfigText,
  stopDeployedAgents,
  stopServedEtcd,
  testDeployOptions,
} from './harness/deployed.ts';
import { startTestHosts, type TestHosts } from './harness/hosts.ts';

const CLUSTER = 'deploy-etcd';

describe('new-or-update starts etcd on the head nodes (3 members)', { timeout: 300_000 }, () => {
  let th: TestHosts;
  let binary: LocalBinary;
  let etcd: Etcd3 | undefined;
  const out: string[] = [];

  const configText = (clientPort = 2379) =>
    deployConfigText(th, {
      cluster: CLUSTER,
      etcd: {
        endpoints: th.hosts.map((h) => `http://${h.address}:${clientPort}`),
        serve: { nodes: th.hosts.map((h) => h.name), clientPort, peerPort: 2380, binary: '/usr/bin/etcd' },
      },
      headPort: 7480,
      meshPort: 7946,
      nodes: th.hosts.map((host) => ({ host, roles: ['head', 'worker'] })),
    });

  const run = (text: string) => {
    const config = validateConfigText(text, 'cluster.yaml').config;
    const getEtcd = async () => {
      etcd ??= await connectEtcd(config.etcd);
      return etcd;
    };
    return deployOverSsh(testDeployOptions({ text, binary, etcd: getEtcd, out }));
  };

  before(async () => {
    th = await startTestHosts(3);
    binary = await copiedBinary();
  });
  after(async () => {
    etcd?.close();
    if (th) {
      await stopDeployedAgents(configText());
      await stopServedEtcd(configText());
    }
    await th?.stop();
    if (out.length) process.stdout.write(`# deploy output:\n${out.join('')}`);
  });

  test('from nothing: etcd members started, config stored there, agents registered', async () => {
    const { plans, rows } = await run(configText());
    assert.deepEqual(
      plans.map((p) => [p.node, p.change, p.steps]),
      th.hosts.map((h) => [h.name, 'install', ['upload-binary', 'upload-config', 'start-etcd', 'start']]),
    );
    assert.deepEqual(
      rows.map((r) => r.state),
      ['running', 'running', 'running'],
    );
    // Each member answers on its own address, and the three form one cluster.
    for (const h of th.hosts) {
      const one = await createEtcd({ endpoints: [`http://${h.address}:2379`], dialTimeoutMs: 2000 });
      try {
        const members = await one.cluster.memberList({});
        assert.deepEqual(members.members.map((m) => m.name).sort(), ['h0', 'h1', 'h2']);
        assert.equal((await readConfig(one, CLUSTER))?.text, configText());
      } finally {
        one.close();
      }
    }
    assert.deepEqual(
      (await listNodes(etcd!, CLUSTER)).map((n) => n.name),
      ['h0', 'h1', 'h2'],
    );
  });

  test('rerun: nothing to do (etcd and agents left running)', async () => {
    const { plans } = await run(configText());
    assert.deepEqual(
      plans.map((p) => p.change),
      ['nothing to do', 'nothing to do', 'nothing to do'],
    );
  });

  test('other etcd flags for running members: refused, naming the node, before anything changes', async () => {
    etcd?.close();
    etcd = undefined;
    await assert.rejects(run(configText(2479)), /^Error: h0: plan: etcd runs there with other flags/);
  });
});
