// Deploy with etcd client TLS: etcd on the hosts' gateway requires client certificates of a test CA. The
// operator's CA, certificate and key are uploaded to each host (<installDir>/tls/), the agents run with an
// etcds:// source and those files, and register through TLS. A renewed client certificate is a config
// change: uploaded, and every agent restarted with it, one at a time. With config tls (turned on in the same
// run), each host gets the cluster CA certificate and its own certificate and key only, which its agent
// checks at start; renewing one node's certificate restarts that node only.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { validateConfigText } from '../agent/config/validate.ts';
import { createEtcd } from '../agent/store/etcd.ts';
import { listNodes } from '../agent/store/node-registry.ts';
import { parseCertificate } from '../agent/tls/inspect.ts';
import { issueNodeCertificate } from '../agent/tls/issue.ts';
import { importPrivateKey } from '../agent/tls/x509.ts';
import { deployOverSsh } from '../head/cli/deploy/deploy.ts';
import type { LocalBinary } from '../head/cli/deploy/node-deploy.ts';
import { initPki } from '../head/cli/tls/issue-all.ts';
import type { CertFiles } from './harness/certs.ts';
import { signCert } from './harness/certs.ts';
import { copiedBinary, deployConfigText, stopDeployedAgents, testDeployOptions } from './harness/deployed.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { startTestHosts, type TestHosts } from './harness/hosts.ts';

const CLUSTER = 'deploy-tls';

describe('new-or-update with etcd client TLS (2 netns hosts)', { timeout: 300_000 }, () => {
  let th: TestHosts;
  let etcdServer: TestEtcd;
  let etcd: Etcd3;
  let binary: LocalBinary;
  /** The cluster's certificates (config tls.dir) and the config deployed with them. */
  let pki = '';
  let deployed = '';
  const out: string[] = [];

  const configText = (tls: CertFiles) =>
    deployConfigText(th, {
      cluster: CLUSTER,
      etcd: { endpoints: [etcdServer.url], tls },
      headPort: 7480,
      meshPort: 7946,
      nodes: th.hosts.map((host, i) => ({ host, roles: i === 0 ? ['head', 'worker'] : ['worker'] })),
    });
  const run = (text: string) =>
    deployOverSsh(testDeployOptions({ text, binary, etcd: async () => etcd, out }));
  const incarnations = async () =>
    Object.fromEntries((await listNodes(etcd, CLUSTER)).map((n) => [n.name, n.incarnation]));

  before(async () => {
    th = await startTestHosts(2);
    etcdServer = await startTestEtcd(th.gateway, { tls: true });
    etcd = await createEtcd({ endpoints: [etcdServer.url], dialTimeoutMs: 2000, tls: etcdServer.clientTls! });
    binary = await copiedBinary();
  });
  after(async () => {
    if (th && etcdServer?.clientTls) await stopDeployedAgents(configText(etcdServer.clientTls));
    etcd?.close();
    await etcdServer?.stop();
    await th?.stop();
    if (out.length) process.stdout.write(`# deploy output:\n${out.join('')}`);
  });

  test('from nothing: certificates uploaded, agents registered through TLS; rerun: nothing to do', async () => {
    const text = configText(etcdServer.clientTls!);
    await run(text);
    assert.deepEqual(Object.keys(await incarnations()), ['h0', 'h1']);
    for (const h of th.hosts)
      assert.equal(
        await readFile(join(h.installDir, 'tls', 'cert.pem'), 'utf8'),
        await readFile(etcdServer.clientTls!.cert, 'utf8'),
      );
    const { plans } = await run(text);
    assert.deepEqual(
      plans.map((p) => p.change),
      ['nothing to do', 'nothing to do'],
    );
  });

  test('a renewed client certificate and config tls turned on: every agent restarted with them; each host holds the cluster CA certificate and its own pair only', async () => {
    const before = await incarnations();
    const renewed = signCert(etcdServer.ca!, 'client-renewed');
    pki = join(await mkdtemp(join(tmpdir(), 'nokube-deploy-pki-')), 'pki');
    const text = `${configText(renewed)}tls:\n  dir: ${pki}\n`;
    await initPki(validateConfigText(text, 'cluster.yaml').config, pki, 30, new Date());
    const { plans } = await run(text);
    assert.deepEqual(
      plans.map((p) => p.change),
      ['config change', 'config change'],
    );
    const now = await incarnations();
    // Registered again: each agent found its files, chained to the CA and naming it, at start.
    for (const h of ['h0', 'h1']) assert.ok(now[h]! > before[h]!, `${h} restarted`);
    const secrets = [
      join(pki, 'ca-key.pem'),
      ...th.hosts.map((h) => join(pki, 'nodes', `${h.name}-key.pem`)),
    ];
    for (const h of th.hosts) {
      const dir = join(h.installDir, 'tls');
      assert.equal(await readFile(join(dir, 'key.pem'), 'utf8'), await readFile(renewed.key, 'utf8'));
      const files = (await readdir(dir)).filter((f) => !f.startsWith('.')); // .nokube-checksums.json: the op's cache
      assert.deepEqual(files.sort(), [
        'ca.pem',
        'cert.pem',
        'cluster-ca.pem',
        'key.pem',
        'node-key.pem',
        'node.pem',
      ]);
      assert.equal(
        await readFile(join(dir, 'node.pem'), 'utf8'),
        await readFile(join(pki, 'nodes', `${h.name}.pem`), 'utf8'),
      );
      const onHost = await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')));
      for (const secret of secrets.filter((f) => !f.endsWith(`/${h.name}-key.pem`)))
        assert.ok(!onHost.includes(await readFile(secret, 'utf8')), `${h.name} holds no copy of ${secret}`);
    }
    deployed = text;
  });

  test("one node's certificate renewed: only that node's agent restarts", async () => {
    const before = await incarnations();
    const ca = {
      cert: parseCertificate(await readFile(join(pki, 'ca.pem'), 'utf8')),
      key: await importPrivateKey(await readFile(join(pki, 'ca-key.pem'), 'utf8')),
    };
    const node = { name: 'h1', address: th.hosts[1]!.address, roles: ['worker' as const] };
    const renewed = await issueNodeCertificate(ca, node, { now: new Date(), days: 30 });
    await writeFile(join(pki, 'nodes', 'h1.pem'), renewed.cert);
    await writeFile(join(pki, 'nodes', 'h1-key.pem'), renewed.key, { mode: 0o600 });
    const { plans } = await run(deployed);
    assert.deepEqual(
      plans.map((p) => p.change),
      ['nothing to do', 'config change'],
    );
    const now = await incarnations();
    assert.equal(now.h0, before.h0);
    assert.ok(now.h1! > before.h1!);
  });
});
