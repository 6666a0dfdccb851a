// new-or-update with the cluster's certificates (config tls) and etcd.serve, through the built CLI, to 3
// netns hosts (all heads, a 3-member etcd): each member serves clients and peers over TLS with its node's
// certificate and takes only certificates of the cluster CA; agents register through it with theirs; the
// CLI reaches etcd with tls.dir's cli.pem (saved in its context) and the heads over HTTPS. A renewed node
// certificate restarts that node's agent only; its member serves it without a restart. A host whose
// certificate is missing stops the deploy before any host is touched; one with a certificate of another
// CA is refused by etcd. One deployed cluster serves every case.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { validateConfigText } from '../agent/config/validate.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { cliEtcdSettings } from '../agent/tls/etcd-served.ts';
import { parseCertificate } from '../agent/tls/inspect.ts';
import { issueNodeCertificate } from '../agent/tls/issue.ts';
import { importPrivateKey } from '../agent/tls/x509.ts';
import type { LocalBinary } from '../head/cli/deploy/node-deploy.ts';
import { initPki } from '../head/cli/tls/issue-all.ts';
import { copiedBinary, deployConfigText, stopDeployedAgents, stopServedEtcd } from './harness/deployed.ts';
import { startTestHosts, type TestHost, type TestHosts } from './harness/hosts.ts';

const CLUSTER = 'etcd-tls';
const CLIENT_PORT = 2379;
const PEER_PORT = 2380;
const run = promisify(execFile);
/** What a TLS client sees when etcd refuses its certificate (or its lack of one). */
const REFUSED = 'error ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE';

/** A command's exit code and output (a failure is a result too). */
const exec = (cmd: string, args: string[], env = process.env) =>
  run(cmd, args, { env }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (err: { code: number; stdout: string; stderr: string }) => err,
  );

interface Pem {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** GET with these TLS options: the status line, or the connection's error code. */
function get(url: string, tls: Pem = { ca: Buffer.alloc(0) }): Promise<string> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(url, { ...tls, timeout: 5000 }, (res) => {
      res.resume();
      resolve(`HTTP ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
    req.end();
  });
}

describe('new-or-update serves etcd with TLS (config tls, 3 members)', { timeout: 300_000 }, () => {
  let th: TestHosts;
  let binary: LocalBinary;
  let home: string;
  let pki: string;
  /** Another CA's certificates for the same node names (initPki into another directory). */
  let foreign: string;
  let text: string;
  const cli = (args: string[]) => exec(binary.path, args, { ...process.env, NOKUBE_HOME: home });
  const pem = async (dir: string, cert?: string): Promise<Pem> => ({
    ca: await readFile(join(pki, 'ca.pem')),
    ...(cert
      ? { cert: await readFile(join(dir, `${cert}.pem`)), key: await readFile(join(dir, `${cert}-key.pem`)) }
      : {}),
  });

  before(async () => {
    th = await startTestHosts(3);
    binary = await copiedBinary();
    home = await mkdtemp(join(tmpdir(), 'nokube-etcd-tls-'));
    pki = join(home, 'pki');
    foreign = join(home, 'foreign');
    text = `${deployConfigText(th, {
      cluster: CLUSTER,
      etcd: {
        endpoints: th.hosts.map((h) => `https://${h.address}:${CLIENT_PORT}`),
        serve: {
          nodes: th.hosts.map((h) => h.name),
          clientPort: CLIENT_PORT,
          peerPort: PEER_PORT,
          binary: '/usr/bin/etcd',
        },
      },
      headPort: 7480,
      meshPort: 7946,
      nodes: th.hosts.map((host) => ({ host, roles: ['head', 'worker'] })),
    })}tls:\n  dir: ${pki}\n`;
    const config = validateConfigText(text, 'cluster.yaml').config;
    await initPki(config, pki, 30, new Date());
    await initPki(config, foreign, 30, new Date());
    await writeFile(join(home, 'cluster.yaml'), text);
  });
  after(async () => {
    if (th && text) {
      await stopDeployedAgents(text);
      await stopServedEtcd(text);
    }
    await th?.stop();
  });

  test('from nothing: members started with TLS, agents registered through it; the CLI works with its context', async () => {
    const r = await cli(['new-or-update', join(home, 'cluster.yaml'), '--yes']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^ {2}\+ h0: install \(upload-binary, upload-config, start-etcd, start\)$/m);
    assert.match(r.stdout, /^client context saved to /m);
    // The context names tls.dir's CLI certificate for etcd and the cluster CA for the heads.
    const ctx = JSON.parse(await readFile(join(home, 'context.json'), 'utf8'));
    assert.deepEqual(ctx.etcd.tls, {
      ca: join(pki, 'ca.pem'),
      cert: join(pki, 'cli.pem'),
      key: join(pki, 'cli-key.pem'),
    });
    assert.equal(ctx.headCa, join(pki, 'ca.pem'));
    const nodes = await cli(['get', 'nodes']);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.equal(nodes.stderr, ''); // no warning either (agent/store/etcd.ts: DEP0123)
    assert.deepEqual(
      nodes.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/).slice(0, 2).join(' ')),
      ['h0 Ready', 'h1 Ready', 'h2 Ready'],
    );
    // Through a head (found in etcd with the CLI certificate), over HTTPS verified against the CA.
    const pods = await cli(['get', 'pods', '-A']);
    assert.equal(pods.code, 0, pods.stderr);
    // Explicit endpoints for the saved cluster take the saved certificate too.
    const flags = await cli([
      'get',
      'nodes',
      'h1',
      '--etcd',
      `https://${th.hosts[1]!.address}:${CLIENT_PORT}`,
    ]);
    assert.equal(flags.code, 0, flags.stderr);
  });

  test('etcd takes clients with a certificate of the cluster CA only', async () => {
    for (const h of th.hosts) {
      const url = `https://${h.address}:${CLIENT_PORT}/version`;
      const seen = [
        await get(url, await pem(pki, 'cli')),
        await get(url, await pem(pki)),
        await get(url, await pem(join(foreign, 'nodes'), h.name)),
        await get(`http://${h.address}:${CLIENT_PORT}/version`),
      ];
      // the CLI's certificate; none; the member's own name under another CA; plain HTTP
      assert.deepEqual(seen, ['HTTP 200', REFUSED, REFUSED, 'error ECONNRESET'], h.name);
    }
  });

  test('peers over TLS: every member advertises https peer and client URLs; the peer port takes a node from its own address, no plain or foreign caller', async () => {
    const etcd = await connectEtcd(cliEtcdSettings(validateConfigText(text, 'cluster.yaml').config));
    try {
      const { members } = await etcd.cluster.memberList({});
      assert.deepEqual(
        members.map((m) => [m.name, m.peerURLs, m.clientURLs]).sort(),
        th.hosts.map((h) => [
          h.name,
          [`https://${h.address}:${PEER_PORT}`],
          [`https://${h.address}:${CLIENT_PORT}`],
        ]),
      );
    } finally {
      etcd.close();
    }
    const [h0, h1] = th.hosts as [TestHost, TestHost];
    const peer = `${h1.address}:${PEER_PORT}/members`;
    // h0, from its own address, with its node certificate (what its member presents to h1's)
    const h0Files = join(pki, 'nodes', 'h0');
    const fromH0 = await exec('ip', [
      ...['netns', 'exec', h0.netns, 'curl', '--http1.1', '-sS', '-o', '/dev/null', '-w', '%{http_code}'],
      ...['--cacert', join(pki, 'ca.pem'), '--cert', `${h0Files}.pem`, '--key', `${h0Files}-key.pem`],
      `https://${peer}`,
    ]);
    assert.equal(fromH0.stdout, '200', fromH0.stderr);
    const seen = [
      await get(`http://${peer}`),
      await get(`https://${peer}`, await pem(pki)),
      await get(`https://${peer}`, await pem(join(foreign, 'nodes'), 'h0')),
    ];
    // plain HTTP; no certificate; h0's name under another CA
    assert.deepEqual(seen, ['error ECONNRESET', REFUSED, REFUSED]);
  });

  test("one node's certificate renewed: only its agent restarts, and its etcd member serves the new certificate without a restart", async () => {
    const h1 = th.hosts[1]!;
    const pidOf = async (h: TestHost, file: string) =>
      (JSON.parse(await readFile(join(h.workspaceDir, file), 'utf8')) as { pid: number }).pid;
    const before = await Promise.all(th.hosts.map((h) => pidOf(h, 'nokube-agent.pid')));
    const etcdPid = await pidOf(h1, 'nokube-etcd.pid');
    const ca = {
      cert: parseCertificate(await readFile(join(pki, 'ca.pem'), 'utf8')),
      key: await importPrivateKey(await readFile(join(pki, 'ca-key.pem'), 'utf8')),
    };
    const node = { name: 'h1', address: h1.address, roles: ['head' as const, 'worker' as const] };
    const renewed = await issueNodeCertificate(ca, node, { now: new Date(), days: 30 });
    await writeFile(join(pki, 'nodes', 'h1.pem'), renewed.cert);
    await writeFile(join(pki, 'nodes', 'h1-key.pem'), renewed.key, { mode: 0o600 });
    const r = await cli(['new-or-update', join(home, 'cluster.yaml'), '--yes']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^ {2}~ h1: config change \(upload-config, restart\)$/m);
    const after = await Promise.all(th.hosts.map((h) => pidOf(h, 'nokube-agent.pid')));
    assert.deepEqual(
      after.map((pid, i) => pid === before[i]),
      [true, false, true],
    );
    assert.equal(await pidOf(h1, 'nokube-etcd.pid'), etcdPid);
    // What h1's member presents now, to a client of the cluster CA.
    const client = await pem(pki, 'cli');
    const served = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: h1.address, port: CLIENT_PORT, ...client }, () => {
        resolve(socket.getPeerX509Certificate()!.fingerprint256);
        socket.destroy();
      });
      socket.on('error', reject);
    });
    assert.equal(served, new X509Certificate(renewed.cert).fingerprint256);
  });

  test("a host without its certificate stops the deploy before any host is touched; one with another CA's cannot reach etcd", async () => {
    // A fourth node in the config, no certificate made for it: refused at once, naming the file.
    const h9 = text.replace(
      /^nodes:\n/m,
      `nodes:\n  - name: h9\n    address: 10.255.0.9\n    roles: [worker]\n    labels: {}\n    workspace: /tmp/h9\n    ssh: { user: root, port: 22, installDir: /tmp/h9, key: ${th.privateKeyPath}, knownHosts: ${th.knownHostsPath} }\n`,
    );
    await writeFile(join(home, 'h9.yaml'), h9);
    const r = await cli(['new-or-update', join(home, 'h9.yaml'), '--yes']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`tls\\.dir ${join(pki, 'nodes', 'h9.pem')}: missing`));
    assert.doesNotMatch(r.stdout, /Plan for cluster/);
    // An agent on h1 holding the cluster CA certificate (public) and a certificate of its own CA under
    // a node's name: etcd refuses its TLS handshake, and the agent stops, naming etcd.
    const dir = join(foreign, 'nodes');
    const endpoints = th.hosts.map((h) => `${h.address}:${CLIENT_PORT}`).join(',');
    const intruder = await exec('ip', [
      'netns',
      'exec',
      th.hosts[1]!.netns,
      binary.path,
      'agent',
      '--config',
      `etcds://${endpoints}/${CLUSTER}`,
      '--node',
      'h1',
      '--workspace',
      join(home, 'intruder'),
      '--etcd-ca',
      join(pki, 'ca.pem'),
      '--etcd-cert',
      join(dir, 'h1.pem'),
      '--etcd-key',
      join(dir, 'h1-key.pem'),
    ]);
    assert.notEqual(intruder.code, 0);
    assert.equal(
      intruder.stderr,
      `error: etcd unreachable at ${th.hosts.map((h) => `https://${h.address}:${CLIENT_PORT}`).join(', ')}: etcd refused the TLS handshake (bad certificate): it takes only client certificates of its CA; no cached config to start from (first start needs etcd)\n`,
    );
  });
});
