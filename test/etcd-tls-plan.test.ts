// etcd served by new-or-update with the cluster's certificates (etcd.serve + tls), at plan level (no SSH):
// what the config must say, the flags each member runs with, what each agent and the CLI connect with, and
// the plan's refusal to turn TLS on (or off) under a running member.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ClusterConfig } from '../agent/config/schema.ts';
import { ConfigError, validateConfigText } from '../agent/config/validate.ts';
import { cliEtcdSettings } from '../agent/tls/etcd-served.ts';
import { etcdMemberService } from '../head/cli/deploy/etcd-member.ts';
import { nodeTarget } from '../head/cli/deploy/node-target.ts';
import { type NodePlan, withEtcd } from '../head/cli/deploy/plan.ts';
import { initPki } from '../head/cli/tls/issue-all.ts';

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ';
const yaml = (etcd: string, extra = '') =>
  `cluster: demo\netcd:\n${etcd}  serve: { nodes: [a], clientPort: 2379, peerPort: 2380, binary: /usr/bin/etcd }\n` +
  `head:\n  port: 7480\nmesh:\n  port: 7946\n${extra}nodes:\n` +
  `  - name: a\n    address: 10.0.0.1\n    roles: [head, worker]\n    workspace: /var/lib/nokube\n` +
  `    ssh: { user: root, port: 22, installDir: /opt/nokube, hostKey: "${HOST_KEY}" }\n`;

function problems(text: string): string[] {
  try {
    validateConfigText(text, 'cluster.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n');
  }
  return [];
}

describe('etcd served with the cluster certificates', () => {
  let root: string;
  let dir: string;
  let config: ClusterConfig;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'nokube-etcd-tls-plan-'));
    dir = join(root, 'pki');
    config = validateConfigText(
      yaml('  endpoints: [https://10.0.0.1:2379]\n', `tls:\n  dir: ${dir}\n`),
      'cluster.yaml',
    ).config;
    await initPki(config, dir, 30, new Date());
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('config: https endpoints with tls, http without; etcd.tls is not for a served etcd', () => {
    const tls = `tls:\n  dir: ${dir}\n`;
    assert.deepEqual(problems(yaml('  endpoints: [http://10.0.0.1:2379]\n', tls)), [
      "cluster.yaml:3: etcd.endpoints: must be the served members' client URLs: https://10.0.0.1:2379 (with tls, etcd is served over https)",
    ]);
    assert.deepEqual(problems(yaml('  endpoints: [https://10.0.0.1:2379]\n')), [
      "cluster.yaml:3: etcd.endpoints: must be the served members' client URLs: http://10.0.0.1:2379",
    ]);
    const etcdTls = '  tls: { ca: /p/ca.pem, cert: /p/c.pem, key: /p/k.pem }\n';
    assert.deepEqual(problems(yaml(`  endpoints: [https://10.0.0.1:2379]\n${etcdTls}`, tls)), [
      "cluster.yaml:4: etcd.tls: not used with etcd.serve: the served etcd and its clients use the cluster's certificates (tls.dir); drop etcd.tls",
    ]);
    assert.deepEqual(problems(yaml(`  endpoints: [http://10.0.0.1:2379]\n${etcdTls}`)), [
      "cluster.yaml:4: etcd.tls: etcd.serve runs etcd with TLS from the cluster's certificates, not etcd.tls: set tls.dir (nokube tls init <cluster.yaml> makes them) and drop etcd.tls, or run etcd yourself (without etcd.serve)",
    ]);
  });

  test("a member serves clients and peers over https with its node's files, requiring certificates of the CA", () => {
    const cmd = etcdMemberService(config, config.nodes[0]!)!.command.join(' ');
    assert.match(
      cmd,
      / --listen-client-urls https:\/\/10\.0\.0\.1:2379 --advertise-client-urls https:\/\/10\.0\.0\.1:2379 /,
    );
    assert.match(cmd, / --initial-cluster a=https:\/\/10\.0\.0\.1:2380 /);
    const t = '/opt/nokube/tls';
    assert.match(
      cmd,
      new RegExp(
        ` --cert-file ${t}/node.pem --key-file ${t}/node-key.pem --client-cert-auth --trusted-ca-file ${t}/cluster-ca.pem` +
          ` --peer-cert-file ${t}/node.pem --peer-key-file ${t}/node-key.pem --peer-client-cert-auth --peer-trusted-ca-file ${t}/cluster-ca.pem$`,
      ),
    );
    const plain = validateConfigText(yaml('  endpoints: [http://10.0.0.1:2379]\n'), 'cluster.yaml').config;
    const plainCmd = etcdMemberService(plain, plain.nodes[0]!)!.command.join(' ');
    assert.doesNotMatch(plainCmd, /https|cert/);
  });

  test('the agent is its client with its node certificate; the CLI with tls.dir cli.pem', () => {
    const t = nodeTarget(config, config.nodes[0]!);
    const files = {
      ca: '/opt/nokube/tls/cluster-ca.pem',
      cert: '/opt/nokube/tls/node.pem',
      key: '/opt/nokube/tls/node-key.pem',
    };
    assert.match(
      t.service.command.join(' '),
      new RegExp(
        `--config etcds://10\\.0\\.0\\.1:2379/demo --node a --etcd-ca ${files.ca} --etcd-cert ${files.cert} --etcd-key ${files.key} `,
      ),
    );
    assert.deepEqual(JSON.parse(t.configText).etcd.tls, files);
    assert.deepEqual(cliEtcdSettings(config), {
      endpoints: ['https://10.0.0.1:2379'],
      dialTimeoutMs: 5000,
      tls: { ca: join(dir, 'ca.pem'), cert: join(dir, 'cli.pem'), key: join(dir, 'cli-key.pem') },
    });
  });

  test('a running member without TLS (or with it, when tls is gone): refused, saying what to do', () => {
    const plan: NodePlan = { node: 'a', change: 'nothing to do', steps: [], reasons: [] };
    const want = etcdMemberService(config, config.nodes[0]!)!.command;
    const plain = validateConfigText(yaml('  endpoints: [http://10.0.0.1:2379]\n'), 'cluster.yaml').config;
    const running = etcdMemberService(plain, plain.nodes[0]!)!.command;
    assert.throws(
      () => withEtcd(plan, { running: true, command: running, want }),
      /^Error: etcd runs there without TLS, and etcd.serve with tls serves it with the cluster's certificates; new-or-update does not convert a running etcd .*etcdctl snapshot save.*snapshot restore/,
    );
    assert.throws(
      () => withEtcd(plan, { running: true, command: want, want: running }),
      /^Error: etcd runs there with TLS, and the config has no tls/,
    );
    assert.equal(withEtcd(plan, { running: true, command: want, want }), plan);
  });
});
