// dist/nokube is one self-contained executable: it runs with no Node.js on PATH and brings up a cluster.
// This test builds nothing: `npm run build` (run by `npm test` before the tests) makes dist/nokube.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { findOnPath } from '../agent/op/processes.ts';
import { VERSION } from '../agent/version.ts';
import { REPO } from './harness/cluster.ts';
import { upWithFreePorts } from './harness/ports.ts';

const BIN = join(REPO, 'dist', 'nokube');
/** A PATH with system tools but no node (node lives in /usr/bin on this kind of host). */
const NO_NODE_PATH = '/usr/sbin:/sbin';

function requireBinary(): void {
  assert.ok(existsSync(BIN), `${BIN} is missing: run npm run build first`);
}

function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, args, { env, timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number | string }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('the single binary', { timeout: 120_000 }, () => {
  test('dist/nokube exists (npm run build)', () => {
    requireBinary();
  });

  test('--version and --help work with no node on PATH', async () => {
    requireBinary();
    for (const dir of NO_NODE_PATH.split(':'))
      assert.ok(!existsSync(join(dir, 'node')), `${dir}/node exists`);
    const env = { PATH: NO_NODE_PATH, HOME: tmpdir() };
    const version = await run(['--version'], env);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), VERSION);
    assert.equal(version.stderr, '');
    const help = await run(['--help'], env);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: nokube \[options\] \[command\]/);
    for (const command of ['up', 'down', 'get', 'members', 'agent', 'head'])
      assert.match(help.stdout, new RegExp(`\\n  ${command} `), `--help lists ${command}`);
  });

  test('brings a one-host cluster up and down with only etcd on PATH', async () => {
    requireBinary();
    const etcd = findOnPath('etcd');
    assert.ok(etcd, 'etcd is not on PATH');
    const dir = await mkdtemp(join(tmpdir(), 'nokube-bin-'));
    // PATH holds etcd and nothing else: no node anywhere; `up` starts the agent from the binary itself.
    await mkdir(join(dir, 'bin'));
    await symlink(etcd, join(dir, 'bin', 'etcd'));
    const env = { PATH: join(dir, 'bin'), HOME: dir, NOKUBE_HOME: join(dir, 'home') };
    // etcd's peer port is its client port + 1: no other port may be that one.
    const up = await upWithFreePorts((ports) =>
      run(['up', '--detach', '--dir', join(dir, 'local'), ...ports], env),
    );
    assert.equal(up.code, 0, up.stdout + up.stderr);
    try {
      const nodes = await run(['get', 'nodes'], env);
      assert.match(nodes.stdout, /\nlocal\s+Ready\s+head,worker/, nodes.stderr);
      const members = await run(['members'], env);
      assert.match(members.stdout, /local \(observer\)\s+alive/, members.stderr);
    } finally {
      const down = await run(['down', '--dir', join(dir, 'local')], env);
      assert.equal(down.code, 0, down.stderr);
    }
    await rm(dir, { recursive: true, force: true });
  });
});
