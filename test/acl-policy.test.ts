// Policy evaluation, token secrets, credentials and the CLI's saved token, without etcd: every built-in policy against the
// requests it must allow and refuse, with the refusal's exact words.
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { authorize, isManagement } from '../head/acl/authorize.ts';
import { BUILTIN_POLICIES, type Policy, parsePolicy } from '../head/acl/policy.ts';
import type { AccessRequest, Subject } from '../head/acl/subject.ts';
import {
  hashSecret,
  isExpired,
  isSecretFormat,
  newSecret,
  newTokenRecord,
  secretMatches,
  tokenInfo,
} from '../head/acl/token.ts';
import {
  credentialOf,
  selectProtocol,
  TOKEN_PROTOCOL_PREFIX,
  WS_PROTOCOL,
} from '../head/api/auth/credentials.ts';
import { contextFile, resolveToken, saveContext, saveToken } from '../head/cli/context.ts';

const builtin = (name: string): Policy => BUILTIN_POLICIES.find((p) => p.name === name)!;
const token = (name: string, ...policies: string[]): Subject => ({
  kind: 'token',
  accessor: `acc-${name}`,
  name,
  policies: policies.map(builtin),
});
const allowed = (s: Subject, r: AccessRequest) => authorize(s, r).allowed;
const refusal = (s: Subject, r: AccessRequest) => {
  const d = authorize(s, r);
  assert.equal(d.allowed, false, JSON.stringify(r));
  return (d as { message: string }).message;
};

test('the built-in policies are valid policy documents', () => {
  for (const p of BUILTIN_POLICIES)
    assert.deepEqual(parsePolicy(JSON.parse(JSON.stringify(p))), { policy: p });
  assert.deepEqual(
    BUILTIN_POLICIES.map((p) => p.name),
    ['anonymous', 'readonly', 'deployer', 'ops-admin'],
  );
});

test('a policy document is validated: every problem named with its path', () => {
  const r = parsePolicy({
    name: 'Bad_Name',
    rules: [{ namespaces: [], resources: ['pods', 'ingresses'], verbs: ['get', 'patch'] }],
    cluster: { acl: 'admin' },
    extra: 1,
  });
  assert.ok('problems' in r);
  const text = r.problems.join('\n');
  for (const want of [
    'name: must be an RFC 1123 label',
    'rules.0.namespaces: names at least one namespace',
    'rules.0.resources.1: must be "*" or one of namespaces, configmaps, secrets, pods, deployments, replicasets, daemonsets, jobs, services, endpointslices, priorityclasses, resourcequotas, limitranges, imageprewarms, cronjobs, poddisruptionbudgets, secrets/values',
    'rules.0.verbs.1:',
    'cluster.acl:',
    'extra',
  ])
    assert.ok(text.includes(want), `${want} in:\n${text}`);
  assert.deepEqual(parsePolicy({ name: 'empty' }), {
    policy: { name: 'empty', description: '', rules: [], cluster: {} },
  });
});

test('readonly reads everything but Secret values; no exec, no writes, no ACL', () => {
  const ro = token('ro', 'readonly');
  for (const r of [
    { verb: 'list', resource: 'pods' },
    { verb: 'get', resource: 'secrets', namespace: 'prod', name: 'db' },
    { verb: 'watch', resource: 'deployments', namespace: 'x' },
    { verb: 'logs', resource: 'pods', namespace: 'x' },
    { verb: 'get', resource: 'config' },
    { verb: 'watch', resource: 'nodes' },
  ] as AccessRequest[])
    assert.ok(allowed(ro, r), JSON.stringify(r));
  assert.equal(
    refusal(ro, { verb: 'get', resource: 'secrets/values', namespace: 'prod' }),
    'token "ro" (policy readonly) may not see Secret values in namespace "prod" (secrets=show)',
  );
  assert.equal(
    refusal(ro, { verb: 'exec', resource: 'pods', namespace: 'default' }),
    'token "ro" (policy readonly) may not exec into pods in namespace "default"',
  );
  assert.equal(
    refusal(ro, { verb: 'create', resource: 'configmaps', namespace: 'default' }),
    'token "ro" (policy readonly) may not create configmaps in namespace "default"',
  );
  assert.equal(
    refusal(ro, { verb: 'get', resource: 'acl' }),
    'token "ro" (policy readonly) may not read acl',
  );
  assert.equal(
    refusal(ro, { verb: 'update', resource: 'config' }),
    'token "ro" (policy readonly) may not write config',
  );
});

test('deployer writes workloads and ConfigMaps in its namespaces only; no Secrets, exec, config or ACL', () => {
  const ci = token('ci', 'deployer');
  for (const verb of ['get', 'list', 'watch', 'create', 'update', 'delete'] as const)
    for (const resource of [
      'pods',
      'deployments',
      'replicasets',
      'daemonsets',
      'jobs',
      'configmaps',
      'services',
    ])
      assert.ok(allowed(ci, { verb, resource, namespace: 'default' }), `${verb} ${resource}`);
  assert.ok(allowed(ci, { verb: 'logs', resource: 'pods', namespace: 'default' }));
  assert.ok(allowed(ci, { verb: 'get', resource: 'nodes' }));
  assert.equal(
    refusal(ci, { verb: 'delete', resource: 'secrets', namespace: 'prod' }),
    'token "ci" (policy deployer) may not delete secrets in namespace "prod"',
  );
  assert.equal(
    refusal(ci, { verb: 'create', resource: 'deployments', namespace: 'prod' }),
    'token "ci" (policy deployer) may not create deployments in namespace "prod"',
  );
  assert.equal(
    refusal(ci, { verb: 'list', resource: 'secrets', namespace: 'default' }),
    'token "ci" (policy deployer) may not list secrets in namespace "default"',
  );
  assert.equal(
    refusal(ci, { verb: 'list', resource: 'pods' }),
    'token "ci" (policy deployer) may not list pods in all namespaces',
  );
  assert.equal(
    refusal(ci, { verb: 'exec', resource: 'pods', namespace: 'default' }),
    'token "ci" (policy deployer) may not exec into pods in namespace "default"',
  );
  assert.equal(
    refusal(ci, { verb: 'logs', resource: 'pods', namespace: 'prod' }),
    'token "ci" (policy deployer) may not read logs of pods in namespace "prod"',
  );
  assert.equal(
    refusal(ci, { verb: 'get', resource: 'config' }),
    'token "ci" (policy deployer) may not read config',
  );
  assert.equal(
    refusal(ci, { verb: 'create', resource: 'acl' }),
    'token "ci" (policy deployer) may not write acl',
  );
});

test('ops-admin may do everything; anonymous nothing; policies add up', () => {
  const admin = token('root', 'ops-admin');
  for (const r of [
    { verb: 'get', resource: 'secrets/values', namespace: 'prod' },
    { verb: 'exec', resource: 'pods', namespace: 'kube-system' },
    { verb: 'delete', resource: 'acl' },
    { verb: 'update', resource: 'config' },
    { verb: 'list', resource: 'secrets' },
  ] as AccessRequest[])
    assert.ok(allowed(admin, r), JSON.stringify(r));
  assert.ok(isManagement(admin));
  assert.ok(!isManagement(token('ro', 'readonly')));
  const anon: Subject = { kind: 'anonymous', policies: [builtin('anonymous')] };
  assert.ok(!isManagement(anon));
  assert.equal(
    refusal(anon, { verb: 'get', resource: 'nodes' }),
    'a request without a token may not read nodes',
  );
  const both = token('both', 'deployer', 'readonly');
  assert.ok(allowed(both, { verb: 'create', resource: 'jobs', namespace: 'default' }));
  assert.ok(allowed(both, { verb: 'list', resource: 'secrets', namespace: 'prod' }));
  assert.equal(
    refusal(both, { verb: 'exec', resource: 'pods', namespace: 'default' }),
    'token "both" (policies deployer, readonly) may not exec into pods in namespace "default"',
  );
  const none: Subject = { kind: 'token', accessor: 'a', name: 'bare', policies: [] };
  assert.equal(
    refusal(none, { verb: 'get', resource: 'pods', namespace: 'default' }),
    'token "bare" (no policy) may not get pods in namespace "default"',
  );
});

test('a custom policy: named namespaces, "*" covers every resource but Secret values', () => {
  const parsed = parsePolicy({
    name: 'team-a',
    rules: [
      { namespaces: ['a', 'b'], resources: ['*'], verbs: ['*'] },
      { namespaces: ['a'], resources: ['secrets/values'], verbs: ['get'] },
    ],
    cluster: { nodes: 'read' },
  });
  assert.ok('policy' in parsed);
  const s: Subject = { kind: 'token', accessor: 'x', name: 'a', policies: [parsed.policy] };
  assert.ok(allowed(s, { verb: 'exec', resource: 'pods', namespace: 'b' }));
  assert.ok(allowed(s, { verb: 'get', resource: 'secrets/values', namespace: 'a' }));
  assert.ok(!allowed(s, { verb: 'get', resource: 'secrets/values', namespace: 'b' }));
  assert.ok(!allowed(s, { verb: 'list', resource: 'secrets/values', namespace: 'a' }));
  assert.ok(!allowed(s, { verb: 'get', resource: 'pods', namespace: 'c' }));
  assert.ok(!allowed(s, { verb: 'update', resource: 'nodes' }));
});

test('token secrets: 256 random bits, only the hash kept, compared in constant time, expiry', () => {
  const secret = newSecret();
  assert.ok(isSecretFormat(secret));
  assert.notEqual(newSecret(), secret);
  assert.ok(!isSecretFormat('abc'));
  assert.ok(!isSecretFormat(`${secret}x`));
  const now = new Date('2026-01-01T00:00:00Z');
  const rec = newTokenRecord(
    { name: 'ci', description: '', policies: ['deployer'], ttlSeconds: 60 },
    secret,
    now,
  );
  assert.equal(rec.secretHash, hashSecret(secret));
  assert.ok(!JSON.stringify(rec).includes(secret));
  assert.ok(secretMatches(rec, secret));
  assert.ok(!secretMatches(rec, newSecret()));
  assert.equal(rec.expirationTime, '2026-01-01T00:01:00.000Z');
  assert.ok(!isExpired(rec, now.getTime() + 59_999));
  assert.ok(isExpired(rec, now.getTime() + 60_000));
  assert.ok(!('secretHash' in tokenInfo(rec, now.getTime())));
  const forever = newTokenRecord({ name: 'x', description: '', policies: [] }, secret, now);
  assert.ok(!isExpired(forever, Number.MAX_SAFE_INTEGER));
});

test('credentials: a Bearer header, or the WebSocket subprotocol; the head selects nokube.v1 only', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
  const secret = newSecret();
  assert.deepEqual(credentialOf(req({ authorization: `Bearer ${secret}` })), { secret });
  assert.deepEqual(credentialOf(req({ authorization: `bearer  ${secret}` })), { secret });
  assert.ok('malformed' in credentialOf(req({ authorization: `Basic ${secret}` })));
  assert.deepEqual(credentialOf(req({})), { none: true });
  const proto = `${WS_PROTOCOL}, ${TOKEN_PROTOCOL_PREFIX}${Buffer.from(secret).toString('base64url')}`;
  assert.deepEqual(credentialOf(req({ 'sec-websocket-protocol': proto })), { secret });
  assert.ok('malformed' in credentialOf(req({ 'sec-websocket-protocol': `${TOKEN_PROTOCOL_PREFIX}a+b=` })));
  assert.equal(selectProtocol(new Set([WS_PROTOCOL, `${TOKEN_PROTOCOL_PREFIX}abc`])), WS_PROTOCOL);
  assert.equal(selectProtocol(new Set([`${TOKEN_PROTOCOL_PREFIX}abc`])), false);
});

test('the CLI context keeps the token per cluster, mode 0600; NOKUBE_TOKEN wins', async () => {
  const home = await mkdtemp(join(tmpdir(), 'nokube-acl-context-'));
  const saved = { home: process.env.NOKUBE_HOME, token: process.env.NOKUBE_TOKEN };
  process.env.NOKUBE_HOME = home;
  delete process.env.NOKUBE_TOKEN;
  try {
    const etcd = { endpoints: ['http://127.0.0.1:2379'], dialTimeoutMs: 5000 };
    // A context file from before (0644) is tightened when the token goes in.
    await writeFile(join(home, 'context.json'), JSON.stringify({ cluster: 'a', etcd }), { mode: 0o644 });
    const secret = newSecret();
    await saveToken({ cluster: 'a', etcd }, secret);
    assert.equal((await stat(contextFile())).mode & 0o777, 0o600);
    assert.equal(await resolveToken('a'), secret);
    assert.equal(await resolveToken('b'), undefined, 'never sent to another cluster');
    await saveContext({ cluster: 'a', etcd });
    assert.equal(await resolveToken('a'), secret, 'new-or-update of the same cluster keeps it');
    process.env.NOKUBE_TOKEN = 'from-env';
    assert.equal(await resolveToken('b'), 'from-env');
    delete process.env.NOKUBE_TOKEN;
    await saveContext({ cluster: 'b', etcd });
    assert.equal(await resolveToken('b'), undefined, 'another cluster drops it');
  } finally {
    if (saved.home === undefined) delete process.env.NOKUBE_HOME;
    else process.env.NOKUBE_HOME = saved.home;
    if (saved.token !== undefined) process.env.NOKUBE_TOKEN = saved.token;
    await rm(home, { recursive: true, force: true });
  }
});
