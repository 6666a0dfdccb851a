// Audit with ACL off (the quick start on loopback): nothing is checked, yet every write, exec and logs
// session still reaches the head's audit log, as `anonymous` (or, over a head with `tls`, as the client
// certificate the CLI presented); the log is rotated by size (config `audit`) and `nokube audit --since`
// reads across the rotated files. Real heads, real etcd.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { storeConfig } from '../agent/store/config-store.ts';
import { pkiNodeFiles } from '../agent/tls/layout.ts';
import { normalSerial } from '../head/acl/store.ts';
import type { AuditRecord } from '../head/audit/audit-log.ts';
import { createTestCluster, eventually, runCli, type TestCluster } from './harness/cluster.ts';

const configMap = (name: string, round = 0) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  round: "${round}"\n`;

describe('audit with ACL off', { timeout: 120_000 }, () => {
  let c: TestCluster;
  let headDir: string;
  const cli = (args: string[], input?: string) => runCli(args, c.env, input);
  const audit = async (...args: string[]): Promise<AuditRecord[]> => {
    const r = await cli(['audit', '-o', 'json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { items: AuditRecord[] }).items;
  };

  before(async () => {
    c = await createTestCluster({ nodes: 1, net: 141 });
    // ~3 KB a file (about 20 records), two rotated files kept: a few applies rotate it.
    const text = c.configYaml(undefined, 'audit:\n  maxSizeMB: 0.003\n  maxFiles: 2\n');
    await writeFile(c.configFile, text);
    await c.withEtcd((etcd) => storeConfig(etcd, text, c.configFile, 'test', 'latest'));
    headDir = join(c.dir, 'ws', 'n1', 'head');
    await c.startAgent('n1');
    await eventually(async () => (await fetch(`${c.headUrl()}/readyz`)).ok, 60_000, 'head ready');
  });
  after(() => c?.stop());

  test('writes, deletes, exec and logs sessions are recorded as anonymous; reads are not', async () => {
    const apply = await cli(['apply', '-f', '-'], configMap('open-cm'));
    assert.equal(apply.code, 0, apply.stderr);
    const got = await cli(['get', 'configmaps']);
    assert.equal(got.code, 0, got.stderr);
    const del = await cli(['delete', 'configmap', 'open-cm']);
    assert.equal(del.code, 0, del.stderr);
    // No such pod: the sessions are refused by the pod stream, after the gate let them through (and told
    // audit), as a real session would be.
    await cli(['logs', 'nopod']);
    await cli(['exec', 'nopod', '--', 'sh']);
    const items = await eventually(
      async () => {
        const all = await audit();
        return all.some((r) => r.verb === 'exec') && all.some((r) => r.verb === 'logs') && all;
      },
      10_000,
      'the exec and logs sessions in the audit log',
    );
    const seen = (verb: string, resource: string, name: string) =>
      items.find((r) => r.verb === verb && r.resource === resource && r.name === name);
    for (const [verb, resource, name] of [
      ['create', 'configmaps', 'open-cm'],
      ['delete', 'configmaps', 'open-cm'],
      ['logs', 'pods', 'nopod'],
      ['exec', 'pods', 'nopod'],
    ] as const) {
      const r = seen(verb, resource, name);
      assert.ok(r, `${verb} ${resource}/${name} recorded: ${JSON.stringify(items)}`);
      assert.equal(r.user, 'anonymous');
      assert.equal(r.accessor, undefined);
      assert.equal(r.result, 'allowed');
      assert.equal(r.namespace, 'default');
    }
    assert.ok(!items.some((r) => r.verb === 'get' || r.verb === 'list'), 'allowed reads are not kept');
    assert.deepEqual(await audit('--user', 'someone'), []);
    const metrics = await (await fetch(`${c.headUrl()}/metrics`)).text();
    assert.match(metrics, /^nokube_audit_records_dropped_total(\{[^}]*\})? 0$/m);
    assert.equal((await audit('--user', 'anonymous')).length, items.length);
  });

  test('the file rotates by size: two rotated files at most, each within the size; --since reads across them', async () => {
    for (let round = 1; round <= 8; round++) {
      const docs = Array.from({ length: 10 }, (_, i) => configMap(`rot-${i}`, round)).join('---\n');
      const r = await cli(['apply', '-f', '-'], docs);
      assert.equal(r.code, 0, r.stderr);
    }
    // Records are written off the request path: one more write, and its record read back, proves the
    // ones before it are on disk.
    const end = await cli(['apply', '-f', '-'], configMap('rot-end', 1));
    assert.equal(end.code, 0, end.stderr);
    await eventually(
      async () => (await audit('--since', '1h')).at(-1)?.name === 'rot-end',
      10_000,
      'rot-end audited',
    );
    const files = (await readdir(headDir)).filter((f) => f.startsWith('audit')).sort();
    assert.deepEqual(files, ['audit.1.jsonl', 'audit.2.jsonl', 'audit.jsonl']);
    const onDisk: AuditRecord[] = [];
    for (const f of ['audit.2.jsonl', 'audit.1.jsonl', 'audit.jsonl']) {
      const text = await readFile(join(headDir, f), 'utf8');
      assert.ok(Buffer.byteLength(text) <= 0.003 * 1024 * 1024, `${f}: ${Buffer.byteLength(text)} bytes`);
      onDisk.push(
        ...text
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l) as AuditRecord),
      );
    }
    // The oldest records (the first test's) are gone with the third rotation; what is kept is read
    // back whole, in order, from all three files.
    assert.ok(!onDisk.some((r) => r.name === 'nopod'), 'the oldest records were rotated away');
    const since = await audit('--since', '1h');
    assert.deepEqual(since, onDisk);
    const last = since.at(-1)!;
    assert.equal(last.name, 'rot-end');
    assert.equal(last.verb, 'create');
    assert.equal(since.at(-2)?.name, 'rot-9');
  });
});

describe('audit with ACL off, over a head with tls: the client certificate names the request', {
  timeout: 120_000,
}, () => {
  let c: TestCluster;
  let pki: string;

  before(async () => {
    c = await createTestCluster({ nodes: 1, net: 144, store: false });
    pki = join(c.dir, 'pki');
    const text = c.configYaml(undefined, `tls:\n  dir: ${pki}\n`);
    await writeFile(c.configFile, text);
    await c.withEtcd((etcd) => storeConfig(etcd, text, c.configFile, 'test', 'latest'));
    const init = await runCli(['tls', 'init', c.configFile], c.env);
    assert.equal(init.code, 0, init.stderr);
    const files = pkiNodeFiles(pki, 'n1');
    await c.startAgent('n1', ['--tls-ca', files.ca, '--tls-cert', files.cert, '--tls-key', files.key]);
    await eventually(
      async () => (await runCli(['members'], { ...c.env, NOKUBE_CA: join(pki, 'ca.pem') })).code === 0,
      60_000,
      'https head answering the CLI',
    );
  });
  after(() => c?.stop());

  test("a write with cli.pem is recorded as the certificate's CN and serial; without one, anonymous", async () => {
    const withCert = {
      ...c.env,
      NOKUBE_CA: join(pki, 'ca.pem'),
      NOKUBE_CLIENT_CERT: join(pki, 'cli.pem'),
      NOKUBE_CLIENT_KEY: join(pki, 'cli-key.pem'),
    };
    const noCert = { ...c.env, NOKUBE_CA: join(pki, 'ca.pem') };
    assert.equal((await runCli(['apply', '-f', '-'], withCert, configMap('by-cert'))).code, 0);
    assert.equal((await runCli(['apply', '-f', '-'], noCert, configMap('by-nobody'))).code, 0);
    const r = await runCli(['audit', '-o', 'json'], noCert);
    assert.equal(r.code, 0, r.stderr);
    const items = (JSON.parse(r.stdout) as { items: AuditRecord[] }).items;
    // Recorded as the head normalises serials: upper-case hex without leading zeros (one in 16 begins with 0).
    const serial = normalSerial(new X509Certificate(await readFile(join(pki, 'cli.pem'))).serialNumber);
    const byCert = items.find((i) => i.name === 'by-cert');
    assert.equal(byCert?.user, 'cli');
    assert.equal(byCert?.certificate, serial);
    assert.equal(byCert?.result, 'allowed');
    const byNobody = items.find((i) => i.name === 'by-nobody');
    assert.equal(byNobody?.user, 'anonymous');
    assert.equal(byNobody?.certificate, undefined);
  });
});
