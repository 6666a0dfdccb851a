// An agent of a cluster whose config has tls: started with its own files it runs, serves its /metrics
// and /healthz over HTTPS with its node certificate (plain HTTP answered 400) and shows their expiry (the
// gauge on /metrics, a Warning event on its node under 30 days); without them, or with another node's,
// it does not start and says which flag and file.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { KubeEvent } from '../agent/objects/events.ts';
import { storeConfig } from '../agent/store/config-store.ts';
import { keys } from '../agent/store/keys.ts';
import { parseCertificate } from '../agent/tls/inspect.ts';
import { headTls } from '../head/cli/head-tls.ts';
import { createTestCluster, eventually, runCli, type TestCluster } from './harness/cluster.ts';

describe('agent with config tls', { timeout: 120_000 }, () => {
  let c: TestCluster;
  let dir: string;
  const files = (node: string) => [
    '--tls-ca',
    join(dir, 'ca.pem'),
    '--tls-cert',
    join(dir, 'nodes', `${node}.pem`),
    '--tls-key',
    join(dir, 'nodes', `${node}-key.pem`),
  ];

  before(async () => {
    c = await createTestCluster({ nodes: 2, net: 93, store: false });
    dir = join(c.dir, 'pki');
    const text = c.configYaml(undefined, `tls:\n  dir: ${dir}\n`);
    await writeFile(c.configFile, text);
    await c.withEtcd((etcd) => storeConfig(etcd, text, c.configFile, 'test', 'latest'));
    // 20 days: under the 30-day mark from the start.
    const init = await runCli(['tls', 'init', c.configFile, '--days', '20']);
    assert.equal(init.code, 0, init.stderr);
  });
  after(() => c?.stop());

  test('with its files: the expiry gauge on /metrics and a Warning event on the node', async () => {
    await c.startAgent('n1', files('n1'));
    const cert = parseCertificate(await readFile(join(dir, 'nodes', 'n1.pem'), 'utf8'));
    const ca = parseCertificate(await readFile(join(dir, 'ca.pem'), 'utf8'));
    // Over HTTPS, verified against the cluster CA (as new-or-update's readiness check reads it).
    const https = c.agentUrl('n1').replace(/^http:/, 'https:');
    const { fetch: viaCa } = await headTls(join(dir, 'ca.pem'));
    const text = await eventually(
      async () => {
        const res = await viaCa(`${https}/metrics`, { signal: AbortSignal.timeout(2000) });
        return res.ok && (await res.text());
      },
      60_000,
      'n1 /metrics over https',
    );
    assert.equal(await (await viaCa(`${https}/healthz`)).text(), 'ok\n');
    const plain = await fetch(`${c.agentUrl('n1')}/healthz`);
    assert.deepEqual(
      [plain.status, await plain.text()],
      [400, 'this agent speaks HTTPS: use https:// and the cluster CA\n'],
    );
    const gauge = (which: string) =>
      Number(
        new RegExp(
          `^nokube_tls_certificate_expiry_timestamp_seconds\\{[^}]*certificate="${which}"[^}]*\\} (\\S+)$`,
          'm',
        ).exec(text)?.[1],
      );
    assert.equal(gauge('node'), cert.notAfter.getTime() / 1000);
    assert.equal(gauge('ca'), ca.notAfter.getTime() / 1000);
    const events = await eventually(
      () =>
        c.withEtcd(async (etcd) => {
          const all = await etcd
            .getAll()
            .prefix(keys.eventsOf(c.name, '_cluster', 'nodes', 'n1'))
            .strings();
          return Object.keys(all).length > 0 && Object.values(all);
        }),
      10_000,
      'the Warning event of n1',
    );
    const event = JSON.parse(events[0]!) as KubeEvent;
    assert.equal(event.type, 'Warning');
    assert.equal(event.reason, 'CertificateExpiring');
    assert.match(event.message, /^node certificate "n1" expires on \S+ \(19 days left\)/);
    assert.deepEqual(event.involvedObject, { kind: 'Node', name: 'n1' });
  });

  test("without its files, or with another node's: no start, the flag and file named", async () => {
    const bare = await c.startAgent('n2');
    assert.equal(await bare.exited, 1);
    assert.match(
      bare.output(),
      /error: the cluster config has tls \(tls\.dir\) but this agent was started without --tls-ca/,
    );
    const other = files('n1');
    const wrong = await c.startAgent('n2', other);
    assert.equal(await wrong.exited, 1);
    assert.match(
      wrong.output(),
      new RegExp(
        `error: --tls-cert ${other[3]}: the certificate is node "n1"'s, not node "n2"'s \\(make or renew it`,
      ),
    );
  });
});
