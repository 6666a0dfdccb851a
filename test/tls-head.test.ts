// A head of a cluster whose config has tls serves its API over HTTPS only, with its node certificate:
// the CLI reaches it verifying the cluster CA (kept in its context), plain HTTP gets a 400 saying so, a
// client certificate of another CA is cut off at the TLS layer, and a CLI without the cluster CA (or
// with another) refuses the head in one line.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { storeConfig } from '../agent/store/config-store.ts';
import { listNodes } from '../agent/store/node-registry.ts';
import { issueCa, issueCliCertificate } from '../agent/tls/issue.ts';
import { importPrivateKey, x509 } from '../agent/tls/x509.ts';
import { clientContextOf } from '../head/cli/context.ts';
import { createTestCluster, eventually, runCli, type TestCluster, tlsAgentFlags } from './harness/cluster.ts';

/** GET over HTTPS with these TLS options: the status, or the connection error's code/message. */
function httpsGet(url: string, tls: { ca: Buffer; cert?: string; key?: string }): Promise<string> {
  return new Promise((resolve) => {
    const req = request(url, { ...tls, timeout: 5000 }, (res) => {
      res.resume();
      resolve(`HTTP ${res.statusCode}`);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
    req.end();
  });
}

describe('head API over HTTPS (config tls)', { timeout: 90_000 }, () => {
  let c: TestCluster;
  let dir: string;
  let caFile: string;
  let ca: Buffer;
  let url: string;
  const other = { ca: '', cert: '', key: '' };

  before(async () => {
    c = await createTestCluster({ nodes: 1, net: 95, store: false });
    dir = join(c.dir, 'pki');
    caFile = join(dir, 'ca.pem');
    const text = c.configYaml(undefined, `tls:\n  dir: ${dir}\n`);
    await writeFile(c.configFile, text);
    await c.withEtcd((etcd) => storeConfig(etcd, text, c.configFile, 'test', 'latest'));
    const init = await runCli(['tls', 'init', c.configFile]);
    assert.equal(init.code, 0, init.stderr);
    ca = await readFile(caFile);
    // Another CA and a client certificate of it, made with the project's own functions.
    const v = { now: new Date(), days: 10 };
    const otherCa = await issueCa('other', v);
    const signing = {
      cert: new x509.X509Certificate(otherCa.cert),
      key: await importPrivateKey(otherCa.key),
    };
    const client = await issueCliCertificate(signing, v);
    Object.assign(other, { ca: join(c.dir, 'other-ca.pem'), cert: client.cert, key: client.key });
    await writeFile(other.ca, otherCa.cert);
    await c.startAgent('n1', tlsAgentFlags(dir, 'n1'));
    url = c.headUrl().replace(/^http:/, 'https:');
    await eventually(
      async () => (await httpsGet(`${url}/healthz`, { ca })) === 'HTTP 200',
      60_000,
      'https head',
    );
  });
  after(() => c?.stop());

  test('the node record advertises https; new-or-update/up save the CA in the context', async () => {
    const nodes = await eventually(
      () => c.withEtcd((etcd) => listNodes(etcd, c.name)).then((n) => n[0]?.api !== undefined && n),
      10_000,
      'n1 registered, naming its API',
    );
    assert.equal(nodes[0]!.api, url);
    const config = { cluster: c.name, etcd: { endpoints: [c.etcd.url] }, tls: { dir } };
    assert.equal(clientContextOf(config as never).headCa, caFile);
  });

  test('CLI commands work against the HTTPS head with the cluster CA (requests and WebSockets)', async () => {
    const env = { ...c.env, NOKUBE_CA: caFile };
    const members = await runCli(['members'], env);
    assert.equal(members.code, 0, members.stderr);
    assert.match(members.stdout, /^n1\s/m);
    const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: over-tls\ndata:\n  a: "1"\n';
    const apply = await runCli(['apply', '-f', '-'], env, cm);
    assert.equal(apply.code, 0, apply.stderr);
    const got = await runCli(['get', 'configmaps'], env);
    assert.match(got.stdout, /^over-tls\s/m);
    // A WebSocket (the watch) verifies the head against the CA too.
    const ws = new WebSocket(`${url.replace(/^https/, 'wss')}/api/v1/watch`, { ca });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.close();
  });

  test('plain HTTP on the head port gets a 400 saying it speaks HTTPS', async () => {
    const res = await fetch(`${c.headUrl()}/api/v1/nodes`);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /this head speaks HTTPS/);
  });

  test('a client certificate of the cluster CA is accepted; one of another CA is refused at TLS', async () => {
    const cli = {
      cert: await readFile(join(dir, 'cli.pem'), 'utf8'),
      key: await readFile(join(dir, 'cli-key.pem'), 'utf8'),
    };
    assert.equal(await httpsGet(`${url}/healthz`, { ca, ...cli }), 'HTTP 200');
    const refused = await httpsGet(`${url}/healthz`, { ca, cert: other.cert, key: other.key });
    assert.match(refused, /^error /);
  });

  test('a CLI without the cluster CA, or with another CA, refuses the head in one line', async () => {
    const bare = await runCli(['get', 'configmaps'], c.env);
    assert.equal(bare.code, 1, bare.stdout);
    assert.match(bare.stderr, /the head's certificate is not trusted .*the CLI has no cluster CA/);
    assert.equal(bare.stderr.trim().split('\n').length, 1, bare.stderr);
    const wrong = await runCli(['get', 'configmaps'], { ...c.env, NOKUBE_CA: other.ca });
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.stderr,
      /the head's certificate is not trusted .*does not verify against the cluster CA .*other-ca\.pem/,
    );
  });
});
