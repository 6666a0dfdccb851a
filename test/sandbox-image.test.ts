// The built-in pod sandbox image (agent/podnet/pause): its archive as tar reads it; its executable for
// this machine ends with 0 on SIGTERM (also after a stop and continue); imported into the real engine it
// runs `/pause`, and `docker stop` ends it by SIGTERM with exit code 0 (not the SIGKILL after the grace
// period, which gives 137: as PID 1 an unhandled SIGTERM would be dropped).
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { oneFileTar } from '../agent/op/tar.ts';
import { PAUSE_ELF } from '../agent/podnet/pause/elf.ts';
import { BUILTIN_SANDBOX_IMAGE, importBuiltinSandbox } from '../agent/podnet/pause/image.ts';
import { eventually } from './harness/cluster.ts';
import { type Docker, requireDocker } from './harness/docker.ts';

const run = promisify(execFile);
const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };

describe('the built-in sandbox image', { timeout: 120_000 }, () => {
  let dir: string;
  let docker: Docker;
  const children: ChildProcess[] = [];
  const elf = () => Buffer.from(PAUSE_ELF[GO_ARCH[process.arch]!]!, 'base64');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nokube-pause-'));
    docker = await requireDocker();
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  test('the archive: one file, pause, mode 0755, owner 0/0, its bytes whole', async () => {
    const tar = join(dir, 'pause.tar');
    await writeFile(tar, oneFileTar('pause', elf(), 0o755));
    const list = (await run('tar', ['-tvf', tar, '--numeric-owner'])).stdout.trim().split('\n');
    assert.equal(list.length, 1);
    assert.match(list[0]!, /^-rwxr-xr-x 0\/0\s+408 .* pause$/);
    const out = join(dir, 'x');
    await mkdir(out);
    await run('tar', ['-xf', tar, '-C', out]);
    assert.deepEqual(await readFile(join(out, 'pause')), elf());
  });

  test("this machine's executable waits, survives a stop and continue, and exits 0 on SIGTERM", async () => {
    const file = join(dir, 'pause');
    await writeFile(file, elf());
    await chmod(file, 0o755);
    const child = spawn(file, { stdio: 'ignore' });
    children.push(child);
    const exited = new Promise<[number | null, string | null]>((r) =>
      child.once('exit', (c, s) => r([c, s])),
    );
    await new Promise((r) => child.once('spawn', r));
    // Its state from /proc: T stopped, S waiting, Z exited (not reaped yet), gone.
    const state = () =>
      readFile(`/proc/${child.pid}/stat`, 'utf8').then(
        (t) => t.slice(t.lastIndexOf(')') + 2, t.lastIndexOf(')') + 3),
        () => 'gone',
      );
    child.kill('SIGSTOP');
    await eventually(async () => (await state()) === 'T', 5000, 'stopped');
    child.kill('SIGCONT');
    // Running (R) for a moment after the continue; then waiting again (S), or exited (Z, gone).
    const after = await eventually(
      async () => {
        const now = await state();
        return now === 'T' || now === 'R' ? undefined : now;
      },
      5000,
      'continued',
    );
    assert.equal(after, 'S', 'waiting again after a stop and continue');
    child.kill('SIGTERM');
    assert.deepEqual(await exited, [0, null]);
  });

  test('imported into the engine: CMD /pause; docker stop ends it by SIGTERM with exit code 0', async () => {
    await importBuiltinSandbox(docker);
    const info = await docker.getImage(BUILTIN_SANDBOX_IMAGE).inspect();
    assert.deepEqual(info.Config.Cmd, ['/pause']);
    const ct = await docker.createContainer({
      Image: BUILTIN_SANDBOX_IMAGE,
      HostConfig: { NetworkMode: 'none' },
      Labels: { 'nokube.test': 'sandbox-image' },
    });
    try {
      await ct.start();
      const { State } = await ct.inspect();
      assert.equal(State.Running, true);
      // Started is not yet waiting: a SIGTERM before its first instructions block it is dropped (PID 1
      // without a handler), as for any image's process before it sets up. /pause sleeps only in its wait
      // (the mask set before): stop once it sleeps. (SigBlk does not show it: the kernel moves the waited
      // signals out of the blocked set while waiting.)
      await eventually(
        async () => {
          const stat = await readFile(`/proc/${State.Pid}/stat`, 'utf8');
          return /^\d+ \(pause\) S /.test(stat);
        },
        10_000,
        'the sandbox process waiting',
      );
      await ct.stop({ t: 60 });
      assert.equal((await ct.inspect()).State.ExitCode, 0);
    } finally {
      await ct.remove({ force: true });
    }
  });
});
