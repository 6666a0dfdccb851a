// Deploy with etcd client TLS: etcd on the hosts' gateway requires client certificates of a test CA. The
// operator's CA, certificate and key are uploaded to each host (<installDir>/tls/), the agents run with an
// etcds:// source and those files, and register through TLS. A renewed client certificate is a config
// change: uploaded, and every agent restarted with it, one at a time.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { fileSha256 } from '../agent/op/checksum.ts';
import { createEtcd } from '../agent/store/etcd.ts';
import { listNodes } from '../agent/store/node-registry.ts';
import { deployOverSsh } from '../head/cli/deploy/deploy.ts';
import type { LocalBinary } from '../head/cli/deploy/node-deploy.ts';
import type { CertFiles } from './harness/certs.ts';
import { signCert } from './harness/certs.ts';
import { REPO } from './harness/cluster.ts';
import { deployConfigText, stopDeployedAgents, testDeployOptions } from './harness/deployed.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { startTestHosts, type TestHosts } from './harness/hosts.ts';

const CLUSTER = 'deploy-tls';

describe('new-or-update with etcd client TLS (2 netns hosts)', { timeout: 300_000 }, () => {
  let th: TestHosts;
  let etcdServer: TestEtcd;
  let etcd: Etcd3;
  let binary: LocalBinary;
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
    const dir = await mkdtemp(join(tmpdir(), 'nokube-deploy-bin-'));
    const path = join(dir, 'nokube');
    await copyFile(join(REPO, 'dist', 'nokube'), path);
    binary = { path, sha256: await fileSha256(path) };
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

  test('a renewed client certificate: uploaded, every agent restarted and registered with it', async () => {
    const before = await incarnations();
    const renewed = signCert(etcdServer.ca!, 'client-renewed');
    const { plans } = await run(configText(renewed));
    assert.deepEqual(
      plans.map((p) => p.change),
      ['config change', 'config change'],
    );
    const now = await incarnations();
    for (const h of ['h0', 'h1']) assert.ok(now[h]! > before[h]!, `${h} restarted`);
    for (const h of th.hosts)
      assert.equal(
        await readFile(join(h.installDir, 'tls', 'key.pem'), 'utf8'),
        await readFile(renewed.key, 'utf8'),
      );
  });
});
