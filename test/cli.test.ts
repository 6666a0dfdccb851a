// The command line against a real etcd: new-or-update, config get/set/edit/history, get nodes, bad input.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { CONFIG_TEMPLATE } from '../agent/config/template.ts';
import { readConfig, readHistory } from '../agent/store/config-store.ts';
import { createTestCluster, runCli, type TestCluster } from './harness/cluster.ts';
import { freePort } from './harness/ports.ts';

describe('cli', { timeout: 120_000 }, () => {
  let c: TestCluster;
  let work: string;
  const stored = () => c.withEtcd((etcd) => readConfig(etcd, c.name));

  before(async () => {
    c = await createTestCluster({ nodes: 2, net: 32, store: false });
    work = await mkdtemp(join(tmpdir(), 'nokube-cli-'));
  });
  after(async () => {
    await c.stop();
  });

  test('new-or-update with no file writes the template and says so; never overwrites', async () => {
    const env = { ...c.env };
    const r = await runCliIn(work, ['new-or-update'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote a cluster config template to .*cluster\.yaml/);
    assert.equal(await readFile(join(work, 'cluster.yaml'), 'utf8'), CONFIG_TEMPLATE);
    const again = await runCliIn(work, ['new-or-update'], env);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^error: .*cluster\.yaml already exists; not overwriting it/);
  });

  test('an invalid file is refused with one line per problem and nothing is written', async () => {
    const bad = join(work, 'bad.yaml');
    await writeFile(bad, c.configYaml().replace('cluster:', 'clustr:').replace('port:', 'port: x\n  porty:'));
    const r = await runCli(['new-or-update', bad], c.env);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.ok(lines.length >= 3, r.stderr);
    assert.ok(
      lines.every((l) => l.startsWith(`error: ${bad}:`)),
      r.stderr,
    );
    assert.match(r.stderr, /clustr: unknown field/);
    assert.match(r.stderr, /cluster: required field is missing/);
    assert.equal(await stored(), null);
  });

  test('an unreachable etcd is one clear line and exit 1', async () => {
    const file = join(work, 'unreachable.yaml');
    const port = await freePort();
    await writeFile(
      file,
      c
        .configYaml()
        .replace(c.etcd.url, `http://127.0.0.1:${port}`)
        .replace('etcd:\n', 'etcd:\n  dialTimeoutMs: 1000\n'),
    );
    const r = await runCli(['new-or-update', file], c.env);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: etcd unreachable at http://127.0.0.1:${port}`));
  });

  test('new-or-update stores the config, then reports unchanged; --dry-run writes nothing', async () => {
    const dry = await runCli(['new-or-update', c.configFile, '--dry-run'], c.env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /valid .* nothing written/);
    assert.equal(await stored(), null);
    const r = await runCli(['new-or-update', c.configFile], c.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`config of cluster "${c.name}" created \\(version 1\\)`));
    const again = await runCli(['new-or-update', c.configFile], c.env);
    assert.match(again.stdout, /unchanged \(version 1\)/);
    // The saved context lets later commands run without flags.
    const ctx = JSON.parse(await readFile(join(c.env.NOKUBE_HOME!, 'context.json'), 'utf8'));
    assert.equal(ctx.cluster, c.name);
    const noEnv = await runCli(['config', 'get', 'cluster'], {
      NOKUBE_HOME: c.env.NOKUBE_HOME!,
      NOKUBE_ETCD: '',
      NOKUBE_CLUSTER: '',
    });
    assert.equal(noEnv.stdout.trim(), c.name, noEnv.stderr);
  });

  test('config get prints whole config, a path, or JSON', async () => {
    const all = await runCli(['config', 'get'], c.env);
    assert.equal(all.stdout, c.configYaml());
    const port = await runCli(['config', 'get', 'mesh.port'], c.env);
    assert.equal(port.stdout.trim(), String(c.meshPort));
    const node = await runCli(['config', 'get', 'nodes.n2', '-o', 'json'], c.env);
    assert.equal(JSON.parse(node.stdout).address, c.nodes[1]!.address);
    const missing = await runCli(['config', 'get', 'nodes.n9'], c.env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no item named "n9"/);
  });

  test('config set validates; a bad value changes nothing', async () => {
    const ok = await runCli(['config', 'set', 'nodes.n2.labels.zone', 'b'], c.env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /configured \(version 2\)/);
    assert.deepEqual(parse((await stored())!.text).nodes[1].labels, { zone: 'b' });
    const before = (await stored())!;
    const bad = await runCli(['config', 'set', 'head.port', 'eighty'], c.env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /head\.port: expected number, got string "eighty"/);
    const unknown = await runCli(['config', 'set', 'mesh.speed', '3'], c.env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /mesh\.speed: unknown field/);
    assert.equal((await stored())!.modRevision, before.modRevision);
  });

  test('config edit: $EDITOR missing, no change, invalid edit, valid edit, concurrent edit', async () => {
    const none = await runCli(['config', 'edit'], { ...c.env, EDITOR: '', VISUAL: '' });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /neither \$VISUAL nor \$EDITOR is set/);

    const editor = async (name: string, js: string) => {
      const file = join(work, name);
      await writeFile(file, `#!${process.execPath}\n${js}\n`);
      await chmod(file, 0o755);
      return file;
    };
    const noop = await editor('noop-editor', '');
    const r0 = await runCli(['config', 'edit'], { ...c.env, EDITOR: noop, VISUAL: '' });
    assert.match(r0.stdout, /edit cancelled: no changes/);

    const breaker = await editor(
      'bad-editor',
      `const fs=require('fs');const f=process.argv[2];fs.writeFileSync(f,fs.readFileSync(f,'utf8').replace(/^head:/m,'haed:'));`,
    );
    const before = (await stored())!;
    const r1 = await runCli(['config', 'edit'], { ...c.env, EDITOR: breaker, VISUAL: '' });
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /haed: unknown field/);
    assert.match(r1.stderr, /head: required field is missing/);
    const kept = /error: (\S+nokube-rejected-[^:]+\.yaml)/.exec(r1.stderr)?.[1];
    assert.ok(kept && existsSync(kept), 'the rejected edit is kept for the user');
    assert.equal((await stored())!.modRevision, before.modRevision);

    const labeller = await editor(
      'good-editor',
      `const fs=require('fs');const f=process.argv[2];fs.writeFileSync(f,fs.readFileSync(f,'utf8').replace('zone: b','zone: c'));`,
    );
    const r2 = await runCli(['config', 'edit'], { ...c.env, EDITOR: labeller, VISUAL: '' });
    assert.equal(r2.code, 0, r2.stderr);
    assert.match((await stored())!.text, /zone: c/);

    // Someone else writes while the editor is open: the edit is refused, theirs stays.
    const racer = await editor(
      'racing-editor',
      `const {execFileSync}=require('child_process');const fs=require('fs');const f=process.argv[2];
execFileSync(process.env.NOKUBE_TEST_CLI_CMD, JSON.parse(process.env.NOKUBE_TEST_CLI_ARGS), {env: process.env});
fs.writeFileSync(f,fs.readFileSync(f,'utf8').replace('zone: c','zone: mine'));`,
    );
    const [cmd, base] = [process.execPath, [join(import.meta.dirname, '../head/cli/main.ts')]];
    const r3 = await runCli(['config', 'edit'], {
      ...c.env,
      EDITOR: racer,
      VISUAL: '',
      NOKUBE_TEST_CLI_CMD: process.env.NOKUBE_BIN ?? cmd,
      NOKUBE_TEST_CLI_ARGS: JSON.stringify([
        ...(process.env.NOKUBE_BIN ? [] : base),
        'config',
        'set',
        'nodes.n1.labels.zone',
        'theirs',
      ]),
    });
    assert.equal(r3.code, 1, r3.stdout);
    assert.match(r3.stderr, /was changed by someone else meanwhile; nothing was written/);
    const text = (await stored())!.text;
    assert.match(text, /zone: theirs/);
    assert.doesNotMatch(text, /zone: mine/);
  });

  test('config history lists versions and shows one', async () => {
    const r = await runCli(['config', 'history'], c.env);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.trim().split('\n');
    assert.match(rows[0]!, /^VERSION\s+AGE\s+BY\s+CURRENT$/);
    const history = await c.withEtcd((etcd) => readHistory(etcd, c.name));
    assert.equal(rows.length - 1, history.length);
    assert.match(rows.at(-1)!, /\*$/);
    const first = await runCli(['config', 'history', '--show', '1'], c.env);
    assert.equal(first.stdout, c.configYaml());
  });

  test('get nodes lists config nodes; without agents they are NotReady', async () => {
    const r = await runCli(['get', 'nodes'], c.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n/);
    assert.match(r.stdout, /\nn1\s+NotReady\s+head,worker\s+<none>\s+<none>/);
    const y = await runCli(['get', 'nodes', '-o', 'yaml'], c.env);
    assert.equal(parse(y.stdout).kind, 'NodeList');
    const badKind = await runCli(['get', 'widgets'], c.env);
    assert.equal(badKind.code, 2);
    assert.match(badKind.stderr, /the server doesn.t have a resource type "widgets"/);
    const badFlag = await runCli(['get', 'nodes', '-o', 'xml'], c.env);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /-o xml: expected one of wide, json, yaml/);
  });

  test('no context at all is a clear usage error', async () => {
    const r = await runCli(['get', 'nodes'], {
      NOKUBE_HOME: join(work, 'empty-home'),
      NOKUBE_ETCD: '',
      NOKUBE_CLUSTER: '',
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no cluster selected: pass --etcd <url> --cluster <name>/);
  });

  test('--help documents every command', async () => {
    const r = await runCli(['--help'], c.env);
    for (const cmd of ['up', 'down', 'new-or-update', 'config', 'get', 'members', 'agent', 'head']) {
      assert.match(r.stdout, new RegExp(`\\n  ${cmd} `), `${cmd} in --help`);
    }
    const sub = await runCli(['config', '--help'], c.env);
    for (const cmd of ['get', 'set', 'unset', 'edit', 'history'])
      assert.match(sub.stdout, new RegExp(`\\n  ${cmd}`));
  });
});

function runCliIn(cwd: string, args: string[], env: Record<string, string>) {
  const prev = process.cwd();
  process.chdir(cwd);
  try {
    return runCli(args, env);
  } finally {
    process.chdir(prev);
  }
}
