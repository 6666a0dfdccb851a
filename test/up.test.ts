// The one-host quick start: `nokube up` brings up etcd + a head/worker agent; Ctrl-C or `down` stops all of it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { connectEtcd } from '../agent/store/etcd.ts';
import { cliCommand, eventually, runCli } from './harness/cluster.ts';
import { upPortFlags, upWithFreePorts } from './harness/ports.ts';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const ports = upPortFlags;

describe('nokube up / down', { timeout: 240_000 }, () => {
  test('up --detach brings a healthy one-host cluster; down stops everything it started', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nokube-up-'));
    const env = { NOKUBE_HOME: join(dir, 'home'), NOKUBE_ETCD: '', NOKUBE_CLUSTER: '' };
    const r = await upWithFreePorts((p) =>
      runCli(['up', '--detach', '--dir', join(dir, 'local'), ...p], env),
    );
    const p = r.ports;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /etcd started at http:\/\/127\.0\.0\.1:/);
    assert.match(r.stdout, /agents ready: local/);
    // The secrets keyring is made where the README says, and given to the agent.
    const keyFile = join(dir, 'home', 'keys', 'local.json');
    assert.ok(r.stdout.includes(`wrote the secrets key ${keyFile}`), r.stdout);
    const pids = JSON.parse(await readFile(join(dir, 'local', 'pids.json'), 'utf8')) as {
      etcd: number;
      agents: Record<string, number>;
    };
    assert.ok(alive(pids.etcd) && alive(pids.agents.local!));

    const nodes = await runCli(['get', 'nodes'], env);
    assert.match(nodes.stdout, /\nlocal\s+Ready\s+head,worker/);
    const head = await fetch(`http://127.0.0.1:${p[3]}/readyz`);
    assert.equal(head.status, 200);

    const again = await runCli(['up', '--detach', '--dir', join(dir, 'local'), ...p], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /a local cluster is already running from/);

    const down = await runCli(['down', '--dir', join(dir, 'local')], env);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(alive(pids.etcd), false);
    assert.equal(alive(pids.agents.local!), false);
    assert.equal(existsSync(join(dir, 'local', 'pids.json')), false);

    // Up again at once: etcd restores the stopped agent's node record with its lease, so `up` must wait
    // for the record of the agent it started (its incarnation), not any record, before it says ready.
    const second = await runCli(['up', '--detach', '--dir', join(dir, 'local'), ...p], env);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: after-restart}\ndata: {a: "1"}\n';
    const applied = await runCli(['apply', '-f', '-'], env, cm);
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    assert.match(applied.stdout, /configmap\/after-restart created/);
    // The second `up` keeps the keyring; a Secret is stored sealed under its key.
    assert.ok(!second.stdout.includes('wrote the secrets key'), second.stdout);
    const secret =
      'apiVersion: v1\nkind: Secret\nmetadata: {name: up-secret}\nstringData: {v: up-value-42}\n';
    assert.equal((await runCli(['apply', '-f', '-'], env, secret)).code, 0);
    const etcd = await connectEtcd({ endpoints: [`http://127.0.0.1:${p[1]}`], dialTimeoutMs: 3000 });
    try {
      const stored = await etcd.get('/nokube/local/objects/secrets/default/up-secret').string();
      assert.ok(
        stored && !stored.includes('up-value-42') && !stored.includes(btoa('up-value-42')),
        String(stored),
      );
      assert.equal(
        (JSON.parse(stored) as { sealed: { kid: string } }).sealed.kid,
        (JSON.parse(await readFile(keyFile, 'utf8')) as { active: string }).active,
      );
    } finally {
      etcd.close();
    }
    const stopped = await runCli(['down', '--dir', join(dir, 'local')], env);
    assert.equal(stopped.code, 0, stopped.stderr);
  });

  /** `nokube up` in the foreground; `exited` resolves with its exit code or the signal that ended it,
   * once all its output has been read. */
  async function foregroundUp(dir: string) {
    const [cmd, base] = cliCommand();
    const child = spawn(cmd, [...base, 'up', '--dir', join(dir, 'local'), ...(await ports())], {
      env: { ...process.env, NOKUBE_HOME: join(dir, 'home') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run = { child, out: '', exited: Promise.resolve('') };
    child.stdout.on('data', (d) => {
      run.out += d;
    });
    child.stderr.on('data', (d) => {
      run.out += d;
    });
    run.exited = new Promise<string>((r) => child.once('close', (code, signal) => r(`${code ?? signal}`)));
    const printed = (text: string) =>
      eventually(
        () => {
          if (child.exitCode !== null) throw new Error(`up exited with ${child.exitCode}: ${run.out}`);
          return run.out.includes(text);
        },
        90_000,
        `up to print "${text}"`,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; output so far: ${run.out}`);
      });
    return Object.assign(run, { printed });
  }
  const readPids = async (dir: string) =>
    JSON.parse(await readFile(join(dir, 'local', 'pids.json'), 'utf8')) as {
      etcd: number;
      agents: Record<string, number>;
    };

  /** Foreground `nokube up`, sent SIGINT once it has printed `text`: its pids from then, its exit. */
  async function interruptAfter(text: string) {
    const dir = await mkdtemp(join(tmpdir(), 'nokube-up-'));
    const up = await foregroundUp(dir);
    await up.printed(text);
    const pids = await readPids(dir);
    up.child.kill('SIGINT');
    const exit = await up.exited;
    return { dir, pids, exit, out: up.out };
  }

  test('foreground up stops everything on Ctrl-C (SIGINT)', async () => {
    const { pids, exit, out } = await interruptAfter('press Ctrl-C');
    assert.equal(exit, '0', out);
    assert.equal(alive(pids.etcd), false);
    assert.equal(alive(pids.agents.local!), false);
    assert.match(out, /stopping…\nstopped\n/);
  });

  test('Ctrl-C while up is starting stops what it started and exits 130', async () => {
    const { dir, pids, exit, out } = await interruptAfter('etcd started');
    assert.equal(exit, '130', out);
    assert.match(
      out,
      /SIGINT: stopping what was started…\nerror: SIGINT while starting: everything started so far is stopped\n$/,
    );
    assert.equal(alive(pids.etcd), false);
    assert.equal(existsSync(join(dir, 'local', 'pids.json')), false);
  });

  test('a missing etcd binary is a clear message', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nokube-up-'));
    const r = await runCli(['up', '--detach', '--dir', join(dir, 'local'), ...(await ports())], {
      NOKUBE_HOME: join(dir, 'home'),
      PATH: '/nonexistent',
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /etcd not found on PATH: install Debian's etcd-server/);
  });
});
