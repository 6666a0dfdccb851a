// A client certificate as an ACL subject, against a real etcd and a head with `tls` and ACL on (one
// cluster for the file): cli.pem (CN=cli, O=ops-admin) may do everything without a token, a node's
// certificate (O=head, O=worker) nothing until a policy of that name exists, another CA's is cut off
// before HTTP; a token sent beside a certificate decides alone; refusals name the certificate and change
// nothing in etcd; audit records the certificate; the CLI presents cli.pem from its context or the
// environment. Then the console over HTTPS in Chromium, trusting exactly the head's key (SPKI pin).
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { storeConfig } from '../agent/store/config-store.ts';
import { issueCa, issueCliCertificate, issueClientCertificate } from '../agent/tls/issue.ts';
import { importPrivateKey, x509 } from '../agent/tls/x509.ts';
import { INVALID_TOKEN, normalSerial } from '../head/acl/store.ts';
import { clientContextOf, saveContext } from '../head/cli/context.ts';
import { gotoSteady } from './harness/browser.ts';
import {
  clusterKeyValues,
  createTestCluster,
  eventually,
  runCli,
  type TestCluster,
  tlsAgentFlags,
} from './harness/cluster.ts';

const NO_TOKEN_HINT = 'log in with a token (`nokube login`, or NOKUBE_TOKEN)';

interface Pem {
  cert: string;
  key: string;
}
interface Answer {
  status: number;
  error?: string;
  body?: Record<string, unknown>;
}

/** A serial as the head names it (no leading zeros: one serial in 16 starts with 0). */
const serialOf = (pem: string): string => normalSerial(new X509Certificate(pem).serialNumber)!;
describe('client certificates as ACL subjects (tls + acl)', { timeout: 180_000 }, () => {
  let c: TestCluster;
  let dir: string;
  let caFile: string;
  let ca: Buffer;
  let url: string;
  let cliPem: Pem;
  let nodePem: Pem;
  let otherPem: Pem;
  const secrets: Record<string, string> = {};
  /** The CLI reaching the head over HTTPS; the client certificate only when asked for. */
  const cli = (args: string[], opts: { token?: string; cert?: boolean } = {}, input?: string) =>
    runCli(
      args,
      {
        ...c.env,
        NOKUBE_CA: caFile,
        ...(opts.token ? { NOKUBE_TOKEN: opts.token } : {}),
        ...(opts.cert
          ? { NOKUBE_CLIENT_CERT: join(dir, 'cli.pem'), NOKUBE_CLIENT_KEY: join(dir, 'cli-key.pem') }
          : {}),
      },
      input,
    );

  /** An HTTPS request with a client certificate and/or a token; a connection cut off is status 0. */
  const call = (
    method: string,
    path: string,
    opts: { pem?: Pem; token?: string; body?: unknown } = {},
  ): Promise<Answer> =>
    new Promise((resolve) => {
      const req = request(
        `${url}${path}`,
        {
          method,
          ca,
          ...(opts.pem ?? {}),
          timeout: 10_000,
          headers: {
            ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
            ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => {
            let body: Record<string, unknown> = {};
            try {
              body = JSON.parse(text) as Record<string, unknown>;
            } catch {
              body = { error: text };
            }
            resolve({
              status: res.statusCode!,
              body,
              ...(typeof body.error === 'string' ? { error: body.error } : {}),
            });
          });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) =>
        resolve({ status: 0, error: `connection: ${err.code ?? err.message}` }),
      );
      req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
    });
  /** A WebSocket over WSS: 101 when the head took it, else the refusal's status and message. */
  const upgrade = (path: string, opts: { pem?: Pem; token?: string } = {}) =>
    new Promise<Answer>((resolve) => {
      const ws = new WebSocket(`${url.replace(/^https/, 'wss')}${path}`, {
        ca,
        ...(opts.pem ?? {}),
        headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
      });
      ws.once('open', () => {
        ws.close();
        resolve({ status: 101 });
      });
      ws.on('unexpected-response', (req, res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => {
          resolve({ status: res.statusCode!, error: (JSON.parse(text) as { error: string }).error });
          req.destroy();
        });
      });
      ws.on('error', (err: NodeJS.ErrnoException) =>
        resolve({ status: 0, error: `connection: ${err.code ?? err.message}` }),
      );
    });
  const everything = () => clusterKeyValues(c);
  const configMap = (name: string, namespace = 'default') => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace },
    data: { k: 'v' },
  });
  const apply = (documents: unknown[], opts: { pem?: Pem; token?: string; dryRun?: boolean } = {}) =>
    call('POST', '/api/v1/apply', { ...opts, body: { documents, dryRun: opts.dryRun === true } });

  before(async () => {
    c = await createTestCluster({ nodes: 1, net: 103, store: false });
    dir = join(c.dir, 'pki');
    caFile = join(dir, 'ca.pem');
    const text = c.configYaml(undefined, `tls:\n  dir: ${dir}\nacl:\n  enabled: true\n`);
    await writeFile(c.configFile, text);
    await c.withEtcd((etcd) => storeConfig(etcd, text, c.configFile, 'test', 'latest'));
    const init = await runCli(['tls', 'init', c.configFile]);
    assert.equal(init.code, 0, init.stderr);
    const boot = await runCli(['acl', 'bootstrap'], c.env);
    assert.equal(boot.code, 0, boot.stderr);
    secrets.admin = /Secret ID:\s+(\S+)/.exec(boot.stdout)![1]!;
    ca = await readFile(caFile);
    const pem = async (cert: string, key: string) => ({
      cert: await readFile(join(dir, cert), 'utf8'),
      key: await readFile(join(dir, key), 'utf8'),
    });
    cliPem = await pem('cli.pem', 'cli-key.pem');
    nodePem = await pem('nodes/n1.pem', 'nodes/n1-key.pem');
    // The same subject as cli.pem (CN=cli, O=ops-admin), but signed by another CA.
    const v = { now: new Date(), days: 10 };
    const other = await issueCa(c.name, v);
    otherPem = await issueCliCertificate(
      { cert: new x509.X509Certificate(other.cert), key: await importPrivateKey(other.key) },
      v,
    );
    await c.startAgent('n1', tlsAgentFlags(dir, 'n1'));
    url = c.headUrl().replace(/^http:/, 'https:');
    await eventually(async () => (await call('GET', '/readyz')).status === 200, 60_000, 'https head ready');
    const ro = await cli(['acl', 'token', 'create', '--name', 'ro', '--policy', 'readonly', '-o', 'json'], {
      token: secrets.admin,
    });
    assert.equal(ro.code, 0, ro.stderr);
    secrets.ro = (JSON.parse(ro.stdout) as { secret: string }).secret;
  });
  after(() => c?.stop());

  test('refused: status and message each, etcd exactly as before', async () => {
    const node = 'certificate "n1" (policies head, worker)';
    const cases: Array<[string, () => Promise<Answer>, number, string | RegExp]> = [
      [
        'neither token nor certificate',
        () => call('GET', '/api/v1/objects/pods?namespace=default'),
        401,
        `a request without a token may not list pods in namespace "default": ${NO_TOKEN_HINT}`,
      ],
      [
        'a node certificate listing pods',
        () => call('GET', '/api/v1/objects/pods?namespace=default', { pem: nodePem }),
        403,
        `${node} may not list pods in namespace "default"`,
      ],
      [
        'a node certificate applying',
        () => apply([configMap('by-node')], { pem: nodePem }),
        403,
        `${node} may not create configmaps in namespace "default"`,
      ],
      [
        'a node certificate reading the config',
        () => call('GET', '/api/v1/config', { pem: nodePem }),
        403,
        `${node} may not read config`,
      ],
      [
        'a node certificate watching',
        () => upgrade('/api/v1/watch', { pem: nodePem }),
        403,
        `${node} may not read nodes`,
      ],
      [
        'a node certificate making a token',
        () =>
          call('POST', '/api/v1/acl/tokens', {
            pem: nodePem,
            body: { name: 'mine', policies: ['ops-admin'] },
          }),
        403,
        `${node} may not write acl`,
      ],
      [
        "another CA's certificate (same subject as cli.pem)",
        () => call('GET', '/api/v1/objects/secrets', { pem: otherPem }),
        0,
        /^connection: /,
      ],
      [
        "another CA's certificate on a WebSocket",
        () => upgrade('/api/v1/watch', { pem: otherPem }),
        0,
        /^connection: /,
      ],
      [
        'a readonly token beside cli.pem: the token decides',
        () => apply([configMap('ro-cm')], { pem: cliPem, token: secrets.ro }),
        403,
        'token "ro" (policy readonly) may not create configmaps in namespace "default"',
      ],
      [
        'a readonly token denying a certificate',
        () =>
          call('POST', '/api/v1/acl/denied-certificates', {
            token: secrets.ro,
            body: { serial: new X509Certificate(cliPem.cert).serialNumber },
          }),
        403,
        'token "ro" (policy readonly) may not write acl',
      ],
      [
        'an invalid token beside cli.pem: 401, no fall back to the certificate',
        () => call('GET', '/api/v1/objects/secrets', { pem: cliPem, token: 'A'.repeat(43) }),
        401,
        INVALID_TOKEN,
      ],
    ];
    cases.push([
      'plain HTTP to the TLS head',
      async () => {
        const res = await fetch(`${c.headUrl()}/api/v1/objects/secrets`, {
          headers: { authorization: `Bearer ${secrets.admin}` },
        });
        return { status: res.status, error: await res.text() };
      },
      400,
      'this head speaks HTTPS: use https:// and the cluster CA\n',
    ]);
    const before = await everything();
    for (const [what, run, status, message] of cases) {
      const a = await run();
      assert.equal(a.status, status, `${what}: ${a.error}`);
      if (typeof message === 'string') assert.equal(a.error, message, what);
      else assert.match(a.error ?? '', message, what);
    }
    assert.deepEqual(await everything(), before, 'no refused call wrote anything');
  });

  test('cli.pem stands for "cli" with policy ops-admin: requests, Secret values, a WebSocket, hostPath', async () => {
    const listed = await call('GET', '/api/v1/objects/secrets?secrets=show', { pem: cliPem });
    assert.equal(listed.status, 200, listed.error);
    const applied = await apply([configMap('by-cli')], { pem: cliPem });
    assert.equal(applied.status, 200, applied.error);
    assert.equal((await upgrade('/api/v1/watch', { pem: cliPem })).status, 101);
    // ops-admin is not held to the Pod Security baseline: a certificate of that group neither.
    const root = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'root', namespace: 'default' },
      spec: {
        containers: [{ name: 'c', image: 'busybox', volumeMounts: [{ name: 'h', mountPath: '/h' }] }],
        volumes: [{ name: 'h', hostPath: { path: '/' } }],
      },
    };
    const admitted = await apply([root], { pem: cliPem, dryRun: true });
    assert.equal(admitted.status, 200, admitted.error);
    const self = await call('GET', '/api/v1/acl/self', { pem: cliPem });
    assert.deepEqual(self.body, {
      enforced: true,
      certificate: {
        name: 'cli',
        // As the head names it: one serial in 16 starts with 0, which it drops.
        serial: serialOf(cliPem.cert),
        policies: ['ops-admin'],
      },
    });
  });

  test('a node certificate gets the rights of a policy named by its O= once one exists', async () => {
    const policy = join(c.dir, 'head-policy.yaml');
    await writeFile(policy, 'name: head\ndescription: what head nodes may read\ncluster:\n  nodes: read\n');
    const made = await cli(['acl', 'policy', 'apply', '-f', policy], { cert: true });
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await call('GET', '/api/v1/nodes', { pem: nodePem })).status, 200);
    const cm = await call('GET', '/api/v1/objects/configmaps?namespace=default', { pem: nodePem });
    assert.deepEqual(
      [cm.status, cm.error],
      [403, 'certificate "n1" (policies head, worker) may not list configmaps in namespace "default"'],
    );
    assert.equal((await cli(['acl', 'policy', 'delete', 'head'], { cert: true })).code, 0);
    assert.equal((await call('GET', '/api/v1/nodes', { pem: nodePem })).status, 403, 'gone at once');
  });

  test('nokube tls client issues another client certificate: its policies, nothing more', async () => {
    const made = await runCli([
      'tls',
      'client',
      c.configFile,
      'ci-bot',
      '--policy',
      'readonly',
      '--days',
      '7',
    ]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /^wrote .*: clients\/ci-bot\.pem, clients\/ci-bot-key\.pem; valid until /);
    assert.equal((await stat(join(dir, 'clients', 'ci-bot-key.pem'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'clients'))).mode & 0o777, 0o700);
    const bot = {
      cert: await readFile(join(dir, 'clients', 'ci-bot.pem'), 'utf8'),
      key: await readFile(join(dir, 'clients', 'ci-bot-key.pem'), 'utf8'),
    };
    assert.equal(
      (await call('GET', '/api/v1/objects/configmaps?namespace=default', { pem: bot })).status,
      200,
    );
    const write = await apply([configMap('by-bot')], { pem: bot });
    assert.deepEqual(
      [write.status, write.error],
      [403, 'certificate "ci-bot" (policy readonly) may not create configmaps in namespace "default"'],
    );
    const bad = await runCli(['tls', 'client', c.configFile, 'Bad_Name', '--policy', 'readonly']);
    assert.deepEqual(
      [bad.code, bad.stderr],
      [2, 'error: name Bad_Name: must be an RFC 1123 label (a-z, 0-9, "-", at most 63 characters)\n'],
    );
    const none = await runCli(['tls', 'client', c.configFile, 'x']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /name at least one --policy/);
  });

  test('a denied certificate is refused at once and loses its open stream; allowed again, it works', async () => {
    const bot = {
      cert: await readFile(join(dir, 'clients', 'ci-bot.pem'), 'utf8'),
      key: await readFile(join(dir, 'clients', 'ci-bot-key.pem'), 'utf8'),
    };
    const serial = serialOf(bot.cert);
    const ws = new WebSocket(`${url.replace(/^https/, 'wss')}/api/v1/watch`, { ca, ...bot });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<[number, string]>((r) =>
      ws.once('close', (code, reason) => r([code, reason.toString()])),
    );
    const denied = await cli(
      ['acl', 'certificate', 'deny', join(dir, 'clients', 'ci-bot.pem'), '--reason', 'laptop lost'],
      { cert: true },
    );
    assert.deepEqual([denied.code, denied.stdout], [0, `certificate "ci-bot" (serial ${serial}) denied\n`]);
    const refusal = `the client certificate "ci-bot" (serial ${serial}) is denied`;
    const next = await call('GET', '/api/v1/objects/configmaps?namespace=default', { pem: bot });
    assert.deepEqual([next.status, next.error], [401, refusal], 'the very next request');
    assert.deepEqual(await closed, [1008, refusal]);
    const again = await cli(['acl', 'certificate', 'deny', serial], { cert: true });
    assert.match(again.stdout, /was denied already/);
    const list = await cli(['acl', 'certificate', 'list'], { cert: true });
    assert.match(list.stdout, new RegExp(`^${serial}\\s+ci-bot\\s+\\S+\\s+laptop lost$`, 'm'));
    assert.equal((await call('GET', '/api/v1/nodes', { pem: cliPem })).status, 200, 'cli.pem unaffected');
    // As openssl prints a serial: lower case, colons; the head matches it all the same.
    const spelled = serial.toLowerCase().replace(/(..)(?=.)/g, '$1:');
    const allowed = await cli(['acl', 'certificate', 'allow', spelled], { cert: true });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(
      (await call('GET', '/api/v1/objects/configmaps?namespace=default', { pem: bot })).status,
      200,
    );
  });

  test('a certificate that expires while its stream is open loses the stream', async () => {
    // Valid for a few more seconds: made "a day ago" for one day.
    const signing = {
      cert: new x509.X509Certificate(ca.toString()),
      key: await importPrivateKey(await readFile(join(dir, 'ca-key.pem'), 'utf8')),
    };
    const brief = await issueClientCertificate(
      signing,
      { name: 'brief', groups: ['readonly'] },
      { now: new Date(Date.now() - 86_400_000 + 6000), days: 1 },
    );
    const ws = new WebSocket(`${url.replace(/^https/, 'wss')}/api/v1/watch`, { ca, ...brief });
    // Listened for before the open: the head closes this stream at once, and a close that comes in the same
    // read as the 101 could be over before an awaiting caller listens.
    const closed = new Promise<[number, string]>((r) =>
      ws.once('close', (code, reason) => r([code, reason.toString()])),
    );
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const [code, reason] = await closed;
    assert.deepEqual([code, reason], [1008, 'the client certificate has expired']);
  });

  test('the CLI presents cli.pem from NOKUBE_CLIENT_CERT/KEY or its context: no token needed', async () => {
    const bare = await cli(['get', 'configmaps']);
    assert.equal(bare.code, 1);
    assert.match(bare.stderr, /^error: a request without a token may not list configmaps/);
    const viaEnv = await cli(['get', 'configmaps'], { cert: true });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.match(viaEnv.stdout, /^by-cli\s/m);
    const info = await cli(['acl', 'token', 'info'], { cert: true });
    assert.match(info.stdout, /client certificate "cli" \(serial [0-9A-F]+, policies ops-admin\)/);
    // A token given beside it decides (NOKUBE_TOKEN of a readonly token: no writes).
    const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cli-ro}\ndata: {a: b}\n';
    const asRo = await cli(['apply', '-f', '-'], { cert: true, token: secrets.ro }, cm);
    assert.deepEqual(
      [asRo.code, asRo.stderr],
      [1, 'error: token "ro" (policy readonly) may not create configmaps in namespace "default"\n'],
    );
    // A client certificate of another CA: the head cuts the connection; the CLI says which file to check.
    await writeFile(join(c.dir, 'other-cli.pem'), otherPem.cert);
    await writeFile(join(c.dir, 'other-cli-key.pem'), otherPem.key, { mode: 0o600 });
    const foreign = await runCli(['get', 'configmaps'], {
      ...c.env,
      NOKUBE_CA: caFile,
      NOKUBE_CLIENT_CERT: join(c.dir, 'other-cli.pem'),
      NOKUBE_CLIENT_KEY: join(c.dir, 'other-cli-key.pem'),
    });
    assert.equal(foreign.code, 1);
    assert.match(
      foreign.stderr,
      /^error: no head answered: https:\S+: other side closed: does the head trust the client certificate \S+other-cli\.pem\? .*\n$/,
    );
    const half = await runCli(['get', 'configmaps'], {
      ...c.env,
      NOKUBE_CA: caFile,
      NOKUBE_CLIENT_CERT: join(dir, 'cli.pem'),
    });
    assert.deepEqual(
      [half.code, half.stderr],
      [
        2,
        'error: NOKUBE_CLIENT_CERT is set without NOKUBE_CLIENT_KEY: set both (a certificate and its key) or neither\n',
      ],
    );
    // The context new-or-update and up save names the CA and cli.pem of tls.dir: the CLI then needs no
    // environment at all (but the cluster it selects).
    const config = { cluster: c.name, etcd: { endpoints: [c.etcd.url] }, tls: { dir } };
    const home = process.env.NOKUBE_HOME;
    process.env.NOKUBE_HOME = c.env.NOKUBE_HOME;
    try {
      await saveContext(clientContextOf(config as never));
    } finally {
      if (home === undefined) delete process.env.NOKUBE_HOME;
      else process.env.NOKUBE_HOME = home;
    }
    const saved = JSON.parse(await readFile(join(c.env.NOKUBE_HOME!, 'context.json'), 'utf8'));
    assert.equal(saved.clientCert, join(dir, 'cli.pem'));
    assert.equal(saved.clientKey, join(dir, 'cli-key.pem'));
    const viaContext = await runCli(['get', 'configmaps'], { NOKUBE_HOME: c.env.NOKUBE_HOME! });
    assert.equal(viaContext.code, 0, viaContext.stderr);
    assert.match(viaContext.stdout, /^by-cli\s/m);
  });

  test('audit records the certificate (its CN as user, its serial), never an accessor', async () => {
    const r = await cli(['audit', '--user', 'cli', '-o', 'json'], { cert: true });
    assert.equal(r.code, 0, r.stderr);
    const items = (JSON.parse(r.stdout) as { items: Array<Record<string, string>> }).items;
    const serial = serialOf(cliPem.cert);
    const write = items.find((i) => i.verb === 'create' && i.name === 'by-cli');
    assert.ok(write, r.stdout);
    assert.equal(write.certificate, serial);
    assert.equal(write.result, 'allowed');
    assert.equal(write.accessor, undefined);
    const nodeRefusals = (
      JSON.parse((await cli(['audit', '--user', 'n1', '-o', 'json'], { cert: true })).stdout) as {
        items: Array<Record<string, string>>;
      }
    ).items;
    assert.ok(
      nodeRefusals.some((i) => i.result === 'denied' && /^certificate "n1"/.test(i.reason ?? '')),
      JSON.stringify(nodeRefusals),
    );
  });

  test('the console over HTTPS in Chromium, trusting only the head key; token login; pods; wss', async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'shown', namespace: 'default' },
      spec: { containers: [{ name: 'c', image: 'nokube-test/none:never', imagePullPolicy: 'Never' }] },
    };
    assert.equal((await apply([pod], { pem: cliPem })).status, 200);
    // The SPKI pin: base64 of the SHA-256 of the head certificate's public key (what Chromium compares).
    const spki = new X509Certificate(nodePem.cert).publicKey.export({ type: 'spki', format: 'der' });
    const pin = createHash('sha256').update(spki).digest('base64');
    const unpinned = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await unpinned.newPage();
      await assert.rejects(
        gotoSteady(page, `${url}/ui`),
        /ERR_CERT_AUTHORITY_INVALID/,
        'not trusted without the pin',
      );
    } finally {
      await unpinned.close();
    }
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', `--ignore-certificate-errors-spki-list=${pin}`],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const sockets: string[] = [];
      page.on('websocket', (ws) => sockets.push(ws.url()));
      const res = await gotoSteady(page, `${url}/ui`);
      assert.equal(res?.status(), 200);
      assert.equal(await page.evaluate('location.protocol'), 'https:');
      await page.waitForSelector('#login:not([hidden])', { timeout: 15_000 });
      await page.fill('#token', secrets.ro!);
      await page.click('#login button');
      // #conn.ok: the event stream's WebSocket is open (wss, with the token as a subprotocol).
      await page.waitForSelector('#conn.ok', { timeout: 15_000 });
      await page.waitForSelector('#nodes tr[data-node="n1"]', { timeout: 15_000 });
      await page.waitForSelector('#tree [data-pod="default/shown"]', { state: 'attached', timeout: 15_000 });
      assert.ok(
        sockets.some((s) => s.startsWith(`${url.replace(/^https/, 'wss')}/api/v1/watch`)),
        sockets.join(', '),
      );
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});
