// `nokube agent op <base64-json>`: the host side of a deploy, run here as the CLI would run it over SSH.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { HostFacts } from '../agent/op/facts.ts';
import { encodeOp } from '../agent/op/op.ts';
import type { Op, ServiceSpec } from '../agent/op/op-schema.ts';
import { alive } from '../agent/op/processes.ts';
import type { ServiceState } from '../agent/op/service.ts';
import { runCli } from './harness/cluster.ts';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

async function op(
  o: Op,
): Promise<{ code: number | null; out: { ok: boolean; result?: unknown; error?: string } }> {
  const r = await runCli(['agent', 'op', encodeOp(o)]);
  return { code: r.code, out: JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') };
}

describe('nokube agent op', { timeout: 180_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nokube-op-'));
  const service = (command: string[]): ServiceSpec => ({
    mode: 'process',
    name: 'test-agent',
    command,
    pidFile: join(dir, 'run', 'agent.pid'),
    logFile: join(dir, 'log', 'agent.log'),
    stopTimeoutMs: 5000,
  });
  const sleeper = service(['/bin/sleep', '300']);
  after(async () => {
    await op({ op: 'stop', service: sleeper });
  });

  test('facts: OS, arch, free disk, the binary (checksum, version), file checksums, service state', async () => {
    await writeFile(join(dir, 'config.yaml'), 'cluster: x\n');
    const r = await op({
      op: 'facts',
      binary: process.execPath,
      files: [join(dir, 'config.yaml'), join(dir, 'absent.yaml')],
      diskPath: join(dir, 'not', 'yet', 'there'),
      service: sleeper,
    });
    assert.equal(r.code, 0, JSON.stringify(r.out));
    const f = r.out.result as HostFacts;
    assert.equal(f.os, 'linux');
    assert.equal(f.arch, arch());
    assert.ok(f.freeDiskBytes > 0);
    assert.equal(typeof f.docker.cli, 'boolean');
    assert.equal(f.binary?.sha256, sha(readFileSync(process.execPath)));
    assert.equal(f.binary?.version, process.version);
    assert.deepEqual(f.files, {
      [join(dir, 'config.yaml')]: sha('cluster: x\n'),
      [join(dir, 'absent.yaml')]: null,
    });
    assert.deepEqual(f.service, { mode: 'process', state: 'stopped', pid: null, command: null });
  });

  test('install: checked, mode set, renamed over the target; a wrong checksum leaves the target as it was', async () => {
    const to = join(dir, 'nokube');
    await writeFile(to, 'old');
    await writeFile(`${to}.upload`, 'new binary');
    const ok = await op({
      op: 'install',
      files: [{ from: `${to}.upload`, to, sha256: sha('new binary'), mode: 0o755 }],
    });
    assert.equal(ok.code, 0, JSON.stringify(ok.out));
    assert.equal(await readFile(to, 'utf8'), 'new binary');
    assert.equal((await stat(to)).mode & 0o777, 0o755);

    await writeFile(`${to}.upload`, 'truncated');
    const bad = await op({
      op: 'install',
      files: [{ from: `${to}.upload`, to, sha256: sha('other'), mode: 0o755 }],
    });
    assert.equal(bad.code, 1);
    assert.match(bad.out.error!, new RegExp(`install ${to}: uploaded file has sha256 ${sha('truncated')}`));
    assert.equal(await readFile(to, 'utf8'), 'new binary');
    await assert.rejects(stat(`${to}.upload`));
  });

  test('service: start (idempotent), state, restart (new pid), stop', async () => {
    const state = async (o: Op) => (await op(o)).out.result as ServiceState;
    const a = await op({ op: 'start', service: sleeper });
    assert.equal(a.code, 0, JSON.stringify(a.out));
    assert.equal((a.out.result as ServiceState).state, 'running');
    const pid = (a.out.result as ServiceState).pid!;
    assert.ok(alive(pid));
    const again = await state({ op: 'start', service: sleeper });
    assert.equal(again.pid, pid, 'start of a running service is a no-op');
    const s = await state({ op: 'state', service: sleeper });
    assert.deepEqual(s, { mode: 'process', state: 'running', pid, command: ['/bin/sleep', '300'] });
    const r = await state({ op: 'restart', service: sleeper });
    assert.equal(r.state, 'running');
    assert.notEqual(r.pid, pid);
    assert.ok(!alive(pid));
    const stopped = await state({ op: 'stop', service: sleeper });
    assert.deepEqual(stopped, { mode: 'process', state: 'stopped', pid: null, command: null });
    assert.ok(!alive(r.pid!));
  });

  test('a service that exits at once is a failed start, with its log', async () => {
    const r = await op({ op: 'start', service: service(['/bin/sh', '-c', 'echo bad flag >&2; exit 3']) });
    assert.equal(r.code, 1);
    assert.match(r.out.error!, /start test-agent: exited at once \(code 3\).*bad flag/);
  });

  test('not base64 JSON, or an invalid operation: exit 1 with the reason', async () => {
    const junk = await runCli(['agent', 'op', '!!!']);
    assert.equal(junk.code, 1);
    assert.match(junk.stderr, /not base64 of a JSON document/);
    const bad = await runCli(['agent', 'op', Buffer.from('{"op":"install","files":[]}').toString('base64')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid operation at files/);
  });
});
