// dist/nokube is one self-contained executable: it runs with no Node.js on PATH and brings up a cluster.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { findOnPath } from '../agent/local/processes.ts';
import { REPO } from './harness/cluster.ts';
import { freePort } from './harness/ports.ts';

const BIN = join(REPO, 'dist', 'nokube');

function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, args, { env, timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('the single binary', { timeout: 120_000 }, () => {
  test('dist/nokube exists (npm run build)', () => {
    assert.ok(existsSync(BIN), `${BIN} is missing: run npm run build first`);
  });

  test('runs with no node on PATH and brings a one-host cluster up and down', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nokube-bin-'));
    // PATH holds etcd and nothing else: no node anywhere.
    await mkdir(join(dir, 'bin'));
    await symlink(findOnPath('etcd')!, join(dir, 'bin', 'etcd'));
    const env = { PATH: join(dir, 'bin'), HOME: dir, NOKUBE_HOME: join(dir, 'home') };
    const version = await run(['--version'], env);
    assert.equal(version.stdout.trim(), '0.1.0', version.stderr);
    const help = await run(['--help'], env);
    assert.match(help.stdout, /Usage: nokube/);

    const ports = [
      '--etcd-port',
      `${await freePort()}`,
      '--head-port',
      `${await freePort()}`,
      '--mesh-port',
      `${await freePort()}`,
    ];
    const up = await run(['up', '--detach', '--dir', join(dir, 'local'), ...ports], env);
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
  });
});
