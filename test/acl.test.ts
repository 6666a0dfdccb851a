// Access control against a real head and etcd (one cluster for the suite): bootstrap once, tokens from
// the CLI, every refusal in a table (status and message, and etcd exactly as it was), what is allowed
// works, a revoked token is refused at once and loses its open stream, the CLI's login, and the console
// in a browser sending its token on fetches and on WebSockets.
import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { keys } from '../agent/store/keys.ts';
import { INVALID_TOKEN, MALFORMED_TOKEN } from '../head/acl/store.ts';
import { TOKEN_PROTOCOL_PREFIX, WS_PROTOCOL } from '../head/api/auth/credentials.ts';
import { gotoSteady } from './harness/browser.ts';
import {
  clusterKeyValues,
  createTestCluster,
  eventually,
  runCli,
  type TestCluster,
} from './harness/cluster.ts';

const NO_TOKEN_HINT = 'log in with a token (`nokube login`, or NOKUBE_TOKEN)';

interface Answer {
  status: number;
  error?: string;
}

describe('access control', { timeout: 240_000 }, () => {
  let c: TestCluster;
  /** Secrets by token name; every one of them is checked to appear in no log. */
  const secrets: Record<string, string> = {};
  const accessors: Record<string, string> = {};
  const cli = (args: string[], token?: string, input?: string) =>
    runCli(args, { ...c.env, ...(token ? { NOKUBE_TOKEN: token } : {}) }, input);

  const call = async (
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; authorization?: string } = {},
  ): Promise<Answer & { body: Record<string, unknown> }> => {
    const authorization = opts.authorization ?? (opts.token ? `Bearer ${opts.token}` : undefined);
    const res = await fetch(`${c.headUrl()}${path}`, {
      method,
      headers: {
        ...(authorization ? { authorization } : {}),
        ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    return { status: res.status, body, ...(typeof body.error === 'string' ? { error: body.error } : {}) };
  };
  /** Open a WebSocket: 101 when the head took it (with its first message, listened for from the start: a
   * frame that came in the same read as the 101 is delivered before an awaiting caller could listen), else
   * the refusal's status and message. */
  const upgrade = (path: string, opts: { token?: string; protocol?: string } = {}) =>
    new Promise<Answer & { ws?: WebSocket; first?: Promise<Buffer> }>((resolve, reject) => {
      const protocols = opts.protocol ? [WS_PROTOCOL, opts.protocol] : [];
      const ws = new WebSocket(`${c.headUrl().replace(/^http/, 'ws')}${path}`, protocols, {
        headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
      });
      const first = new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d)));
      ws.once('open', () => resolve({ status: 101, ws, first }));
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
      ws.on('error', reject);
    });
  /** Every key of the cluster with its value and revision: a refusal leaves it exactly so. */
  const everything = () => clusterKeyValues(c);
  const configMap = (name: string, namespace = 'default') => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace },
    data: { k: 'v' },
  });
  const createToken = async (name: string, policy: string, ttl?: string) => {
    const r = await cli(
      [
        'acl',
        'token',
        'create',
        '--name',
        name,
        '--policy',
        policy,
        '-o',
        'json',
        ...(ttl ? ['--ttl', ttl] : []),
      ],
      secrets.admin,
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { secret: string; token: { accessor: string } };
    secrets[name] = out.secret;
    accessors[name] = out.token.accessor;
    return out.secret;
  };

  before(async () => {
    c = await createTestCluster({ nodes: 1, net: 93 });
    await c.startAgent('n1');
    await eventually(async () => (await call('GET', '/readyz')).status === 200, 30_000, 'head ready');
  });
  after(async () => {
    await c?.stop();
  });

  test('off until the config turns it on; bootstrap once (a second one is refused)', async () => {
    assert.equal((await call('GET', '/api/v1/objects/secrets')).status, 200, 'ACL off: open');
    const first = await cli(['acl', 'bootstrap']);
    assert.equal(first.code, 0, first.stderr);
    secrets.admin = /Secret ID:\s+(\S+)/.exec(first.stdout)![1]!;
    const before = await everything();
    const again = await cli(['acl', 'bootstrap']);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      new RegExp(`^error: the ACL of cluster "${c.name}" was bootstrapped already \\(.+\\)\\n$`),
    );
    assert.deepEqual(await everything(), before, 'a refused bootstrap writes nothing');
    const policies = await c.withEtcd((etcd) => etcd.getAll().prefix(keys.aclPoliciesPrefix(c.name)).keys());
    assert.deepEqual(policies.map((k) => k.slice(keys.aclPoliciesPrefix(c.name).length)).sort(), [
      'anonymous',
      'deployer',
      'ops-admin',
      'readonly',
    ]);
    // The secret is nowhere in etcd; its hash is.
    assert.ok(!JSON.stringify(before).includes(secrets.admin));

    const set = await cli(['config', 'set', 'acl.enabled', 'true']);
    assert.equal(set.code, 0, set.stderr);
    await eventually(async () => (await call('GET', '/api/v1/members')).status === 401, 15_000, 'ACL on');
    for (const path of ['/healthz', '/readyz', '/metrics', '/ui'])
      assert.equal((await call('GET', path)).status, 200, `${path} stays anonymous`);

    await createToken('ro', 'readonly');
    await createToken('ci', 'deployer');
    await createToken('gone', 'readonly');
    await createToken('brief', 'readonly', '1s');
    const ns = await call('POST', '/api/v1/apply', {
      token: secrets.admin,
      body: {
        documents: [
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' } },
          {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: 'db', namespace: 'prod' },
            data: { pw: 'aHVudGVyMg==' },
          },
        ],
      },
    });
    assert.equal(ns.status, 200, JSON.stringify(ns.body));
    const revoked = await cli(['acl', 'token', 'revoke', accessors.gone!], secrets.admin);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.stdout, `token "gone" (${accessors.gone}) revoked\n`);
    await eventually(
      async () => (await call('GET', '/api/v1/nodes', { token: secrets.brief })).status === 401,
      10_000,
      'the 1 s token expired',
    );
  });

  test('refused calls: status and message each, and etcd exactly as before', async () => {
    const cases: Array<[string, () => Promise<Answer>, number, string]> = [
      [
        'no token',
        () => call('GET', '/api/v1/objects/pods?namespace=default'),
        401,
        `a request without a token may not list pods in namespace "default": ${NO_TOKEN_HINT}`,
      ],
      ['malformed token', () => call('GET', '/api/v1/nodes', { token: 'not-a-token' }), 401, MALFORMED_TOKEN],
      [
        'not Bearer',
        () => call('GET', '/api/v1/nodes', { authorization: `Basic ${secrets.ro}` }),
        401,
        'the Authorization header must be "Bearer <token>"',
      ],
      ['unknown token', () => call('GET', '/api/v1/nodes', { token: 'A'.repeat(43) }), 401, INVALID_TOKEN],
      ['expired token', () => call('GET', '/api/v1/nodes', { token: secrets.brief }), 401, INVALID_TOKEN],
      ['revoked token', () => call('GET', '/api/v1/nodes', { token: secrets.gone }), 401, INVALID_TOKEN],
      [
        'readonly applying',
        () => call('POST', '/api/v1/apply', { token: secrets.ro, body: { documents: [configMap('ro-cm')] } }),
        403,
        'token "ro" (policy readonly) may not create configmaps in namespace "default"',
      ],
      [
        'readonly applying, dry run',
        () =>
          call('POST', '/api/v1/apply', {
            token: secrets.ro,
            body: { documents: [configMap('ro-cm')], dryRun: true },
          }),
        403,
        'token "ro" (policy readonly) may not create configmaps in namespace "default"',
      ],
      [
        'deployer in another namespace',
        () =>
          call('POST', '/api/v1/apply', { token: secrets.ci, body: { documents: [configMap('x', 'prod')] } }),
        403,
        'token "ci" (policy deployer) may not create configmaps in namespace "prod"',
      ],
      [
        'deployer deleting a secret',
        () => call('DELETE', '/api/v1/objects/secrets/prod/db', { token: secrets.ci }),
        403,
        'token "ci" (policy deployer) may not delete secrets in namespace "prod"',
      ],
      [
        'deployer reading secrets',
        () => call('GET', '/api/v1/objects/secrets?namespace=default', { token: secrets.ci }),
        403,
        'token "ci" (policy deployer) may not list secrets in namespace "default"',
      ],
      [
        'deployer reading one secret',
        () => call('GET', '/api/v1/objects/secrets/prod/db', { token: secrets.ci }),
        403,
        'token "ci" (policy deployer) may not get secrets in namespace "prod"',
      ],
      [
        'readonly reading Secret values',
        () => call('GET', '/api/v1/objects/secrets/prod/db?secrets=show', { token: secrets.ro }),
        403,
        'token "ro" (policy readonly) may not see Secret values in namespace "prod" (secrets=show)',
      ],
      [
        'readonly exec',
        () => upgrade('/api/v1/namespaces/default/pods/p/exec?command=sh', { token: secrets.ro }),
        403,
        'token "ro" (policy readonly) may not exec into pods in namespace "default"',
      ],
      [
        'deployer exec',
        () => upgrade('/api/v1/namespaces/default/pods/p/exec?command=sh', { token: secrets.ci }),
        403,
        'token "ci" (policy deployer) may not exec into pods in namespace "default"',
      ],
      [
        'deployer logs in another namespace',
        () => upgrade('/api/v1/namespaces/prod/pods/p/log', { token: secrets.ci }),
        403,
        'token "ci" (policy deployer) may not read logs of pods in namespace "prod"',
      ],
      [
        'watch without a token',
        () => upgrade('/api/v1/watch'),
        401,
        `a request without a token may not read nodes: ${NO_TOKEN_HINT}`,
      ],
      [
        'deployer watching secrets',
        () => upgrade('/api/v1/watch/secrets?namespace=default', { token: secrets.ci }),
        403,
        'token "ci" (policy deployer) may not watch secrets in namespace "default"',
      ],
      [
        'revoked token in the subprotocol',
        () =>
          upgrade('/api/v1/watch', {
            protocol: TOKEN_PROTOCOL_PREFIX + Buffer.from(secrets.gone!).toString('base64url'),
          }),
        401,
        INVALID_TOKEN,
      ],
      [
        'deployer reading the config',
        () => call('GET', '/api/v1/config', { token: secrets.ci }),
        403,
        'token "ci" (policy deployer) may not read config',
      ],
      [
        'readonly listing tokens',
        () => call('GET', '/api/v1/acl/tokens', { token: secrets.ro }),
        403,
        'token "ro" (policy readonly) may not read acl',
      ],
      [
        'deployer making a token',
        () =>
          call('POST', '/api/v1/acl/tokens', {
            token: secrets.ci,
            body: { name: 'mine', policies: ['ops-admin'] },
          }),
        403,
        'token "ci" (policy deployer) may not write acl',
      ],
      [
        'changing ops-admin',
        () =>
          call('POST', '/api/v1/acl/policies', {
            token: secrets.admin,
            body: { name: 'ops-admin', rules: [] },
          }),
        403,
        'policy "ops-admin" is built in and cannot be changed',
      ],
      [
        'a token for a policy that does not exist',
        () =>
          call('POST', '/api/v1/acl/tokens', {
            token: secrets.admin,
            body: { name: 'x', policies: ['nope'] },
          }),
        400,
        'policy "nope" does not exist (see `nokube acl policy list`)',
      ],
    ];
    const before = await everything();
    for (const [what, request, status, message] of cases) {
      const answer = await request();
      assert.deepEqual([answer.status, answer.error], [status, message], what);
    }
    assert.deepEqual(await everything(), before, 'no refused call wrote anything');
  });

  test('what a token may do works: deployer in its namespace, ops-admin everywhere, readonly reads', async () => {
    const applied = await call('POST', '/api/v1/apply', {
      token: secrets.ci,
      body: { documents: [configMap('ci-cm')] },
    });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    // An update needs `update` as a create needs `create`: the deployer has both.
    const again = await call('POST', '/api/v1/apply', {
      token: secrets.ci,
      body: { documents: [{ ...configMap('ci-cm'), data: { k: 'v2' } }] },
    });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(
      (await call('GET', '/api/v1/objects/configmaps/default/ci-cm', { token: secrets.ro })).status,
      200,
    );
    const redacted = await call('GET', '/api/v1/objects/secrets/prod/db', { token: secrets.ro });
    assert.deepEqual(redacted.body.data, { pw: '<7 bytes>' });
    const shown = await call('GET', '/api/v1/objects/secrets/prod/db?secrets=show', { token: secrets.admin });
    assert.deepEqual(shown.body.data, { pw: 'aHVudGVyMg==' });
    const del = await call('DELETE', '/api/v1/objects/configmaps/default/ci-cm', { token: secrets.ci });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    // Streams: the event stream with a header, and as a browser sends it (subprotocol); a pod stream past
    // the gate answers from the handler (no such pod).
    const watch = await upgrade('/api/v1/watch', { token: secrets.ro });
    assert.equal(watch.status, 101);
    watch.ws!.close();
    const proto = await upgrade('/api/v1/watch', {
      protocol: TOKEN_PROTOCOL_PREFIX + Buffer.from(secrets.ro!).toString('base64url'),
    });
    assert.equal(proto.status, 101);
    assert.equal(proto.ws!.protocol, WS_PROTOCOL, 'the head selects nokube.v1, never the token');
    proto.ws!.close();
    const logs = await upgrade('/api/v1/namespaces/default/pods/none/log', { token: secrets.ci });
    assert.equal(logs.status, 101);
    const end = (await logs.first!).subarray(1).toString();
    assert.match(end, /pods \\?"none\\?" not found/);
    // ACL management through the CLI: a policy of our own, listed; tokens listed without secrets.
    const list = await cli(['acl', 'token', 'list'], secrets.admin);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ACCESSOR\s+NAME\s+POLICIES\s+AGE\s+EXPIRES\n/);
    assert.match(list.stdout, new RegExp(`${accessors.brief}\\s+brief\\s+readonly\\s+\\S+\\s+expired`));
    const info = await cli(['acl', 'token', 'info', accessors.ci!], secrets.admin);
    assert.match(info.stdout, /Name:\s+ci\nDescription:.*\nPolicies:\s+deployer\n/);
    for (const s of Object.values(secrets)) {
      assert.ok(!list.stdout.includes(s) && !info.stdout.includes(s), 'no secret in list or info');
    }
  });

  test('admission (Pod Security baseline): hostPath outside the allowed prefixes and host ports below 1024 refused for all but ops-admin', async () => {
    const pod = (name: string, spec: Record<string, unknown>) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default' },
      spec: { nodeSelector: { nowhere: 'true' }, containers: [{ name: 'main', image: 'busybox' }], ...spec },
    });
    const rootMount = pod('root', { volumes: [{ name: 'host', hostPath: { path: '/' } }] });
    const web = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web80', namespace: 'default' },
      spec: {
        selector: { matchLabels: { app: 'web80' } },
        template: {
          metadata: { labels: { app: 'web80' } },
          spec: {
            nodeSelector: { nowhere: 'true' },
            containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 80 }] }],
          },
        },
      },
    };
    const before = await everything();
    const refused = await call('POST', '/api/v1/apply', {
      token: secrets.ci,
      body: { documents: [rootMount, web] },
    });
    assert.equal(refused.status, 403);
    assert.equal(
      refused.error,
      [
        'Error from server (Forbidden): pods "root" is forbidden: violates PodSecurity "baseline": hostPath volume "host" (path "/"): no hostPath is allowed in namespace "default" (admission.hostPathPrefixes)',
        'Error from server (Forbidden): deployments.apps "web80" is forbidden: violates PodSecurity "baseline": host port 80/TCP (container "web"): below 1024',
      ].join('\n'),
    );
    assert.deepEqual(await everything(), before, 'nothing written');
    // A prefix the config allows for the namespace admits the mount below it.
    const set = await cli(
      ['config', 'set', 'admission', '{"hostPathPrefixes": {"default": ["/srv/data"]}}'],
      secrets.admin,
    );
    assert.equal(set.code, 0, set.stderr);
    const allowed = pod('data', { volumes: [{ name: 'data', hostPath: { path: '/srv/data/db' } }] });
    await eventually(
      async () =>
        (
          await call('POST', '/api/v1/apply', {
            token: secrets.ci,
            body: { documents: [allowed], dryRun: true },
          })
        ).status === 200,
      10_000,
      'the head follows the admission config',
    );
    // ops-admin is not held to the baseline.
    const admin = await call('POST', '/api/v1/apply', {
      token: secrets.admin,
      body: { documents: [rootMount], dryRun: true },
    });
    assert.equal(admin.status, 200, JSON.stringify(admin.body));
  });

  test('a policy of our own: applied from YAML, then a token with it deploys to prod only', async () => {
    const file = join(c.dir, 'prod-deployer.yaml');
    await writeFile(
      file,
      'name: prod-deployer\ndescription: CI for prod\nrules:\n  - namespaces: [prod]\n    resources: [deployments, configmaps]\n    verbs: [get, list, create, update, delete]\n',
    );
    const applied = await cli(['acl', 'policy', 'apply', '-f', file], secrets.admin);
    assert.equal(applied.stdout, 'policy "prod-deployer" created\n', applied.stderr);
    const got = await cli(['acl', 'policy', 'get', 'prod-deployer'], secrets.admin);
    assert.match(got.stdout, /namespaces:\n\s+- prod\n/);
    const listed = await cli(['acl', 'policy', 'list'], secrets.admin);
    assert.match(listed.stdout, /^prod-deployer\s+1\s+-\s+CI for prod$/m);
    const t = await createToken('prod-ci', 'prod-deployer');
    assert.equal(
      (await call('POST', '/api/v1/apply', { token: t, body: { documents: [configMap('p', 'prod')] } }))
        .status,
      200,
    );
    const other = await call('POST', '/api/v1/apply', { token: t, body: { documents: [configMap('p')] } });
    assert.deepEqual(
      [other.status, other.error],
      [403, 'token "prod-ci" (policy prod-deployer) may not create configmaps in namespace "default"'],
    );
    // `update` without `create`: decided on what the apply finds (the same reads its transaction compares).
    const editor = await call('POST', '/api/v1/acl/policies', {
      token: secrets.admin,
      body: {
        name: 'cm-editor',
        rules: [{ namespaces: ['prod'], resources: ['configmaps'], verbs: ['update'] }],
      },
    });
    assert.deepEqual(editor.body, { name: 'cm-editor', outcome: 'created' });
    const e = await createToken('editor', 'cm-editor');
    const edit = await call('POST', '/api/v1/apply', {
      token: e,
      body: { documents: [{ ...configMap('p', 'prod'), data: { k: 'edited' } }] },
    });
    assert.equal(edit.status, 200, JSON.stringify(edit.body));
    const before = await everything();
    const make = await call('POST', '/api/v1/apply', {
      token: e,
      body: { documents: [{ ...configMap('p', 'prod'), data: { k: 'again' } }, configMap('new', 'prod')] },
    });
    assert.deepEqual(
      [make.status, make.error],
      [403, 'token "editor" (policy cm-editor) may not create configmaps in namespace "prod"'],
    );
    assert.deepEqual(await everything(), before, 'nothing of the refused apply was written');
    // Deleting the policy takes its rights from the token at once.
    assert.equal((await cli(['acl', 'policy', 'delete', 'prod-deployer'], secrets.admin)).code, 0);
    const after = await call('GET', '/api/v1/objects/configmaps/prod/p', { token: t });
    assert.deepEqual(
      [after.status, after.error],
      [403, 'token "prod-ci" (policy prod-deployer) may not get configmaps in namespace "prod"'],
    );
  });

  test('revoking a token refuses it at once, and closes its open stream', async () => {
    const t = await createToken('short', 'readonly');
    assert.equal((await call('GET', '/api/v1/nodes', { token: t })).status, 200);
    const open = await upgrade('/api/v1/watch', { token: t });
    assert.equal(open.status, 101);
    const closed = new Promise<[number, string]>((r) =>
      open.ws!.once('close', (code, reason) => r([code, reason.toString()])),
    );
    assert.equal((await cli(['acl', 'token', 'revoke', accessors.short!], secrets.admin)).code, 0);
    const next = await call('GET', '/api/v1/nodes', { token: t });
    assert.deepEqual([next.status, next.error], [401, INVALID_TOKEN], 'the very next request');
    assert.deepEqual(await closed, [1008, INVALID_TOKEN]);
  });

  test('the CLI: login keeps the token (0600), commands send it, refusals are one line', async () => {
    const bad = await cli(['login'], undefined, 'not-a-token\n');
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, `error: ${MALFORMED_TOKEN}\n`);
    const login = await cli(['login'], undefined, `${secrets.ci}\n`);
    assert.equal(login.code, 0, login.stderr);
    assert.match(
      login.stdout,
      new RegExp(
        `^logged in to cluster "${c.name}" as token "ci" \\(accessor ${accessors.ci}, policies deployer\\)`,
      ),
    );
    assert.equal((await stat(join(c.env.NOKUBE_HOME!, 'context.json'))).mode & 0o777, 0o600);
    const cm = join(c.dir, 'cm.yaml');
    await writeFile(cm, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-cli}\ndata: {a: b}\n');
    const apply = await cli(['apply', '-f', cm]);
    assert.equal(apply.code, 0, apply.stderr);
    assert.equal(apply.stdout, 'configmap/from-cli created\n');
    const secretsList = await cli(['get', 'secrets']);
    assert.deepEqual(
      [secretsList.code, secretsList.stderr],
      [1, 'error: token "ci" (policy deployer) may not list secrets in namespace "default"\n'],
    );
    const exec = await cli(['exec', 'p', '--', 'sh']);
    assert.deepEqual(
      [exec.code, exec.stderr],
      [1, 'error: token "ci" (policy deployer) may not exec into pods in namespace "default"\n'],
    );
    const watch = await cli(['get', 'secrets', '-w']);
    assert.equal(watch.code, 1);
    // NOKUBE_TOKEN wins over the saved token.
    const asAdmin = await cli(['get', 'secrets', '-n', 'prod'], secrets.admin);
    assert.equal(asAdmin.code, 0, asAdmin.stderr);
    assert.match(asAdmin.stdout, /^db\s/m);
    const self = await cli(['acl', 'token', 'info']);
    assert.match(self.stdout, /Name:\s+ci\n/);
  });

  test('the console asks for a token and sends it (fetch header, WebSocket subprotocol)', async () => {
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await gotoSteady(page, `${c.headUrl()}/ui`);
      await page.waitForSelector('#login:not([hidden])', { timeout: 15_000 });
      assert.match((await page.textContent('#auth-message')) ?? '', /a request without a token may not/);
      await page.fill('#token', secrets.ro!);
      await page.click('#login button');
      await page.waitForSelector('#conn.ok', { timeout: 15_000 });
      await page.waitForSelector('#nodes tr[data-node="n1"]', { timeout: 15_000 });
      await page.waitForFunction(
        `document.querySelector('#tree details[data-key="ns/prod"]') !== null`,
        undefined,
        {
          timeout: 15_000,
        },
      );
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });

  test('audit: writes, streams and refusals recorded with who did them; reading it needs the right to read the ACL', async () => {
    const r = await cli(['audit', '-o', 'json'], secrets.admin);
    assert.equal(r.code, 0, r.stderr);
    const items = (JSON.parse(r.stdout) as { items: Array<Record<string, string>> }).items;
    const seen = (user: string, verb: string, result: string, name?: string) =>
      items.some(
        (i) => i.user === user && i.verb === verb && i.result === result && (!name || i.name === name),
      );
    assert.ok(seen('ci', 'create', 'allowed', 'ci-cm'), 'the deployer created ci-cm');
    assert.ok(seen('ci', 'delete', 'allowed', 'ci-cm'), 'and deleted it');
    assert.ok(seen('ro', 'create', 'denied'), 'a refused apply of the readonly token');
    assert.ok(seen('ci', 'logs', 'allowed', 'none'), 'a logs session');
    assert.ok(!items.some((i) => i.verb === 'get' && i.result === 'allowed'), 'allowed reads are not kept');
    for (const s of Object.values(secrets))
      assert.ok(!r.stdout.includes(s), 'no token secret in the audit log');
    const mine = await cli(['audit', '--user', 'ci', '--since', '1h'], secrets.admin);
    assert.equal(mine.code, 0, mine.stderr);
    assert.match(mine.stdout, /^TIME\s+USER\s+VERB\s+RESOURCE\s+NAMESPACE\s+NAME\s+RESULT\n/);
    assert.ok(
      mine.stdout
        .trimEnd()
        .split('\n')
        .slice(1)
        .every((l) => l.split(/\s+/)[1] === 'ci'),
    );
    const ro = await cli(['audit'], secrets.ro);
    assert.equal(ro.code, 1);
    assert.match(ro.stderr, /may not read acl/);
  });

  test('no secret in the head’s log', () => {
    const log = c.agents.get('n1')!.output();
    assert.ok(log.includes('acl token created'), 'the log has the token events');
    for (const [name, s] of Object.entries(secrets))
      assert.ok(!log.includes(s), `secret of ${name} in the log`);
  });
});
