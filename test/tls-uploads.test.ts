// What new-or-update puts on each host with config tls, at plan level (no SSH): a host gets the CA
// certificate and its own certificate and key, never the CA key nor another node's; the agent is told
// where they are; their checksums are in the node file, so renewing one node's certificate changes only
// that node's file. A node without its certificate stops the deploy before any host is touched.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ClusterConfig } from '../agent/config/schema.ts';
import { validateConfigText } from '../agent/config/validate.ts';
import { parseCertificate } from '../agent/tls/inspect.ts';
import { issueNodeCertificate } from '../agent/tls/issue.ts';
import { importPrivateKey } from '../agent/tls/x509.ts';
import { deployOverSsh } from '../head/cli/deploy/deploy.ts';
import { nodeTarget } from '../head/cli/deploy/node-target.ts';
import { initPki } from '../head/cli/tls/issue-all.ts';

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ';
const node = (name: string, address: string, roles: string) =>
  `  - name: ${name}\n    address: ${address}\n    roles: [${roles}]\n    workspace: /var/lib/nokube\n` +
  `    ssh: { user: root, port: 22, installDir: /opt/nokube-${name}, hostKey: "${HOST_KEY}" }\n`;
const yaml = (
  extra: string,
  nodes = node('a', '10.0.0.1', 'head, worker') + node('b', '10.0.0.2', 'worker'),
) =>
  `cluster: demo\netcd:\n  endpoints: [http://10.0.0.1:2379]\n${extra}head:\n  port: 7480\nmesh:\n  port: 7946\nnodes:\n${nodes}`;
const sha = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

describe('uploads per host with config tls', () => {
  let root: string;
  let dir: string;
  let config: ClusterConfig;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'nokube-tls-uploads-'));
    dir = join(root, 'pki');
    config = validateConfigText(yaml(`tls:\n  dir: ${dir}\n`), 'cluster.yaml').config;
    await initPki(config, dir, 365, new Date());
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('each host gets the CA certificate and its own certificate and key, nothing else', async () => {
    for (const n of config.nodes) {
      const t = nodeTarget(config, n);
      const remote = `/opt/nokube-${n.name}/tls`;
      assert.deepEqual(
        t.tlsFiles.map((f) => [f.local, f.remote]),
        [
          [join(dir, 'ca.pem'), `${remote}/cluster-ca.pem`],
          [join(dir, `nodes/${n.name}.pem`), `${remote}/node.pem`],
          [join(dir, `nodes/${n.name}-key.pem`), `${remote}/node-key.pem`],
        ],
      );
      const args = t.service.command.join(' ');
      assert.match(
        args,
        new RegExp(
          `--tls-ca ${remote}/cluster-ca.pem --tls-cert ${remote}/node.pem --tls-key ${remote}/node-key.pem$`,
        ),
      );
      const file = JSON.parse(t.configText) as { tls: { sha256: string[] } };
      assert.deepEqual(file.tls.sha256, await Promise.all(t.tlsFiles.map((f) => sha(f.local))));
    }
  });

  test('with etcd.tls as well: both sets, under distinct names', async () => {
    const both = validateConfigText(
      yaml(`tls:\n  dir: ${dir}\n`).replace(
        'endpoints: [http://10.0.0.1:2379]\n',
        `endpoints: [https://10.0.0.1:2379]\n  tls: { ca: ${dir}/ca.pem, cert: ${dir}/cli.pem, key: ${dir}/cli-key.pem }\n`,
      ),
      'cluster.yaml',
    ).config;
    const t = nodeTarget(both, both.nodes[1]!);
    assert.deepEqual(
      t.tlsFiles.map((f) => f.remote.replace('/opt/nokube-b/tls/', '')),
      ['ca.pem', 'cert.pem', 'key.pem', 'cluster-ca.pem', 'node.pem', 'node-key.pem'],
    );
    assert.match(t.service.command.join(' '), /--etcd-ca \S+ --etcd-cert \S+ --etcd-key \S+ --tls-ca /);
  });

  test("a renewed certificate of one node changes that node's file only; without tls the file has no tls", async () => {
    const [a0, b0] = config.nodes.map((n) => nodeTarget(config, n).configSha256);
    const ca = {
      cert: parseCertificate(await readFile(join(dir, 'ca.pem'), 'utf8')),
      key: await importPrivateKey(await readFile(join(dir, 'ca-key.pem'), 'utf8')),
    };
    const renewed = await issueNodeCertificate(ca, config.nodes[1]!, { now: new Date(), days: 30 });
    await writeFile(join(dir, 'nodes/b.pem'), renewed.cert);
    await writeFile(join(dir, 'nodes/b-key.pem'), renewed.key, { mode: 0o600 });
    const [a1, b1] = config.nodes.map((n) => nodeTarget(config, n).configSha256);
    assert.equal(a1, a0);
    assert.notEqual(b1, b0);
    const plain = validateConfigText(yaml(''), 'cluster.yaml').config;
    const t = nodeTarget(plain, plain.nodes[0]!);
    assert.equal('tls' in JSON.parse(t.configText), false);
    assert.deepEqual(t.tlsFiles, []);
    assert.doesNotMatch(t.service.command.join(' '), /--tls-/);
  });

  test('a node without its certificate: the deploy stops before connecting to any host', async () => {
    const more = validateConfigText(
      yaml(`tls:\n  dir: ${dir}\n`, node('a', '10.0.0.1', 'head, worker') + node('c', '10.0.0.3', 'worker')),
      'cluster.yaml',
    ).config;
    const never = () => Promise.reject(new Error('not to be called'));
    await assert.rejects(
      deployOverSsh({
        config: more,
        binary: { path: '/nonexistent', sha256: 'x' },
        dryRun: true,
        confirm: () => Promise.resolve(false),
        previousConfig: never,
        storeConfig: never,
        etcd: never,
        out: () => undefined,
        by: 'test',
        sshTimeoutMs: 1,
        registerTimeoutMs: 1,
        drainTimeoutMs: 1,
      }),
      new RegExp(
        `^AgentStartError: tls.dir ${dir}/nodes/c.pem: missing \\(nokube tls rotate <cluster.yaml> makes`,
      ),
    );
  });
});
