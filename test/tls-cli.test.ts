// nokube tls init | rotate | status through the real CLI: the files and their modes, what each renewal
// changes, the status table and its exit code; every refusal leaves tls.dir exactly as it was.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { validateConfigText } from '../agent/config/validate.ts';
import { chainProblem, parseCertificate } from '../agent/tls/inspect.ts';
import { issueCa, issueNodeCertificate } from '../agent/tls/issue.ts';
import { DAY_MS } from '../agent/tls/validity.ts';
import { importPrivateKey } from '../agent/tls/x509.ts';
import { rotatePki } from '../head/cli/tls/issue-all.ts';
import { runCli } from './harness/cluster.ts';

const nodeYaml = (name: string, address: string, roles: string) =>
  `  - name: ${name}\n    address: ${address}\n    roles: [${roles}]\n    workspace: /var/lib/nokube\n`;
const configYaml = (tlsDir: string | undefined, extraNodes = '') =>
  `cluster: demo\netcd:\n  endpoints: [http://10.0.0.1:2379]\nhead:\n  port: 7480\nmesh:\n  port: 7946\n${
    tlsDir ? `tls:\n  dir: ${tlsDir}\n` : ''
  }nodes:\n${nodeYaml('a', '10.0.0.1', 'head, worker')}${nodeYaml('b', 'b.example.net', 'worker')}${extraNodes}`;

/** Every file under `dir` with its mode and text. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const path = join(e.parentPath, e.name);
    const mode = ((await stat(path)).mode & 0o777).toString(8);
    out[path.slice(dir.length + 1)] = e.isDirectory()
      ? `dir ${mode}`
      : `${mode} ${await readFile(path, 'utf8')}`;
  }
  return out;
}

describe('nokube tls', { timeout: 120_000 }, () => {
  let root: string;
  let dir: string;
  let file: string;
  const tls = (...args: string[]) => runCli(['tls', ...args]);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'nokube-tls-cli-'));
    dir = join(root, 'pki');
    file = join(root, 'cluster.yaml');
    await writeFile(file, configYaml(dir));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('a config without tls.dir is refused, naming the field', async () => {
    const bare = join(root, 'bare.yaml');
    await writeFile(bare, configYaml(undefined));
    const r = await tls('init', bare);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: \S+bare\.yaml: tls\.dir: is not set/);
    const days = await tls('init', file, '--days', '0');
    assert.equal(days.code, 2);
    assert.match(days.stderr, /--days 0: must be a whole number of days/);
    assert.deepEqual(await snapshot(dir), {});
  });

  test('init: the CA, the CLI certificate, one per node; keys 0600, directories 0700', async () => {
    const r = await tls('init', file);
    assert.equal(r.code, 0, r.stderr);
    const files = await snapshot(dir);
    assert.deepEqual(
      Object.entries(files)
        .map(([k, v]) => `${k} ${v.split(' ')[0]}`)
        .sort(),
      [
        'ca-key.pem 600',
        'ca.pem 644',
        'cli-key.pem 600',
        'cli.pem 644',
        'nodes dir',
        'nodes/a-key.pem 600',
        'nodes/a.pem 644',
        'nodes/b-key.pem 600',
        'nodes/b.pem 644',
      ],
    );
    assert.equal(files.nodes, 'dir 700');
    assert.equal(((await stat(dir)).mode & 0o777).toString(8), '700');
    const ca = parseCertificate(await readFile(join(dir, 'ca.pem'), 'utf8'));
    const a = parseCertificate(await readFile(join(dir, 'nodes/a.pem'), 'utf8'));
    assert.equal(await chainProblem(a, ca, new Date()), undefined);
    assert.equal(Math.round((a.notAfter.getTime() - Date.now()) / DAY_MS), 365);
    assert.equal(Math.round((ca.notAfter.getTime() - Date.now()) / DAY_MS), 3650);
  });

  test('init again: refused, naming what exists; nothing changed', async () => {
    const before = await snapshot(dir);
    const r = await tls('init', file);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /already holds ca\.pem, ca-key\.pem, cli\.pem, cli-key\.pem, nodes\/a\.pem/);
    assert.deepEqual(await snapshot(dir), before);
  });

  test('status: one row per certificate, days left, exit 0', async () => {
    const r = await tls('status', file);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^CERTIFICATE\s+SUBJECT\s+SANS\s+NOT AFTER\s+DAYS LEFT$/);
    assert.match(lines[1]!, /^ca\.pem\s+CN=nokube demo CA, OU=nokube-ca\s+-\s+\S+Z\s+3649$/);
    assert.match(lines[2]!, /^cli\.pem\s+CN=cli, O=ops-admin, OU=nokube-client\s+-\s+\S+\s+364$/);
    assert.match(
      lines[3]!,
      /^nodes\/a\.pem\s+CN=a, O=head, O=worker, OU=nokube-node\s+IP:10\.0\.0\.1,DNS:a\s/,
    );
    assert.match(lines[4]!, /^nodes\/b\.pem\s+CN=b, O=worker, OU=nokube-node\s+DNS:b\.example\.net,DNS:b\s/);
    assert.equal(lines.length, 5);
  });

  test('rotate: same CA, new certificates and keys, a new node gets its own; under 30 days marked', async () => {
    const before = await snapshot(dir);
    await writeFile(file, configYaml(dir, nodeYaml('c', '10.0.0.3', 'worker')));
    const r = await tls('rotate', file, '--days', '10');
    assert.equal(r.code, 0, r.stderr);
    const now = await snapshot(dir);
    assert.equal(now['ca.pem'], before['ca.pem']);
    assert.equal(now['ca-key.pem'], before['ca-key.pem']);
    for (const f of ['cli.pem', 'cli-key.pem', 'nodes/a.pem', 'nodes/a-key.pem'])
      assert.notEqual(now[f], before[f], f);
    assert.match(now['nodes/c-key.pem']!, /^600 /);
    const status = await tls('status', file);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /\nnodes\/c\.pem\s.*\s9\s+! under 30 days left\n/);
    assert.doesNotMatch(status.stdout, /\nca\.pem\s.*!/);
  });

  test("status: an expired certificate is marked, exit 1; a removed node's is listed as not in the config", async () => {
    const caKey = await importPrivateKey(await readFile(join(dir, 'ca-key.pem'), 'utf8'));
    const ca = { cert: parseCertificate(await readFile(join(dir, 'ca.pem'), 'utf8')), key: caKey };
    const old = await issueNodeCertificate(
      ca,
      { name: 'b', address: 'b.example.net', roles: ['worker'] },
      { now: new Date(Date.now() - 2.5 * DAY_MS), days: 1 },
    );
    await writeFile(join(dir, 'nodes/b.pem'), old.cert);
    await writeFile(file, configYaml(dir));
    const r = await tls('status', file);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\nnodes\/b\.pem\s.*\s-2\s+! EXPIRED\n/);
    assert.match(r.stdout, /\nnodes\/c\.pem\s.*not in the config\n/);
    await writeFile(file, configYaml(dir, nodeYaml('c', '10.0.0.3', 'worker')));
  });

  test('rotate --ca: a new CA (the previous kept), every certificate reissued by it; a client certificate is not', async () => {
    const issued = await tls('client', file, 'ci-bot', '--policy', 'deployer');
    assert.equal(issued.code, 0, issued.stderr);
    // (nodes/b.pem is still the expired one of the test before: exit 1 here; the client's row is clean)
    const listed = await tls('status', file);
    assert.match(
      listed.stdout,
      /\nclients\/ci-bot\.pem\s+CN=ci-bot, O=deployer, OU=nokube-client\s+-\s+\S+\s+364\s*\n/,
    );
    const before = await snapshot(dir);
    const r = await tls('rotate', file, '--ca');
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /\nnot renewed: clients\/ci-bot\.pem \(no longer valid: signed by the previous CA\); nokube tls client /,
    );
    const now = await snapshot(dir);
    assert.notEqual(now['ca.pem'], before['ca.pem']);
    assert.equal(now['ca.previous.pem'], before['ca.pem']);
    assert.equal(now['ca-key.previous.pem'], before['ca-key.pem']);
    assert.equal(now['clients/ci-bot.pem'], before['clients/ci-bot.pem']);
    const status = await tls('status', file);
    assert.equal(status.code, 1, status.stdout);
    assert.deepEqual(
      status.stdout
        .split('\n')
        .filter((l) => l.includes('!'))
        .map((l) => l.split(/\s/)[0]),
      ['clients/ci-bot.pem'],
    );
    assert.equal((await tls('client', file, 'ci-bot', '--policy', 'deployer')).code, 0);
    const again = await tls('status', file);
    assert.equal(again.code, 0, again.stdout);
    assert.doesNotMatch(again.stdout, /!/);
  });

  test('refusals change nothing: no CA to rotate with, a directory open to others', async () => {
    const empty = join(root, 'empty');
    const other = join(root, 'other.yaml');
    await writeFile(other, configYaml(empty));
    const r = await tls('rotate', other);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /has no CA \(\S+ca\.pem, \S+ca-key\.pem missing\): nokube tls init/);
    assert.deepEqual(await snapshot(empty), {});

    const before = await snapshot(dir);
    await chmod(dir, 0o755);
    for (const cmd of ['init', 'rotate']) {
      const loose = await tls(cmd, file);
      assert.equal(loose.code, 2, cmd);
      assert.match(loose.stderr, /is open to other users \(mode 755\): chmod 700 /, cmd);
    }
    await chmod(dir, 0o700);
    assert.deepEqual(await snapshot(dir), before);

    // An expired CA signs nothing (rotate --ca replaces it).
    const stale = join(root, 'stale');
    const old = await issueCa('demo', { now: new Date(Date.now() - 20 * DAY_MS), days: 10 });
    await mkdir(stale, { mode: 0o700 });
    await writeFile(join(stale, 'ca.pem'), old.cert);
    await writeFile(join(stale, 'ca-key.pem'), old.key, { mode: 0o600 });
    const staleBefore = await snapshot(stale);
    const config = validateConfigText(configYaml(stale), 'cluster.yaml').config;
    await assert.rejects(
      rotatePki(config, stale, 365, false, new Date()),
      /ca\.pem: expired on \S+: it cannot sign \(nokube tls rotate --ca makes a new CA\)/,
    );
    assert.deepEqual(await snapshot(stale), staleBefore);
  });
});
