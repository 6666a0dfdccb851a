// The SSH side of a deploy against real sshd hosts (ip netns): host keys from known_hosts or pinned, a wrong
// or unknown host key refused naming the node, argv quoting, SFTP upload, and `nokube agent op` remotely.
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { validateConfigText } from '../agent/config/validate.ts';
import type { HostFacts } from '../agent/op/facts.ts';
import { observeNode } from '../head/cli/deploy/node-deploy.ts';
import { nodeTarget } from '../head/cli/deploy/node-target.ts';
import { planNode } from '../head/cli/deploy/plan.ts';
import { runRemoteOp } from '../head/cli/deploy/ssh/remote-op.ts';
import { openSession, type SshTarget } from '../head/cli/deploy/ssh/session.ts';
import { ENTRY } from './harness/cluster.ts';
import { deployConfigText } from './harness/deployed.ts';
import { startTestHosts, type TestHost, type TestHosts } from './harness/hosts.ts';

describe('deploy over SSH: session and remote ops', { timeout: 120_000 }, () => {
  let th: TestHosts;
  const target = (h: TestHost, ssh: Partial<SshTarget['ssh']> = {}): SshTarget => ({
    name: h.name,
    address: h.address,
    ssh: { user: th.user, port: 22, key: th.privateKeyPath, knownHosts: th.knownHostsPath, ...ssh },
  });
  before(async () => {
    th = await startTestHosts(3);
  });
  after(async () => {
    await th?.stop();
  });

  test('known_hosts: connects to each host; argv arrives intact through the login shell', async () => {
    for (const h of th.hosts) {
      const s = await openSession(target(h), 5000);
      try {
        const r = await s.exec(['printf', '%s|', 'a b', "it's", '$HOME', '`x`']);
        assert.deepEqual(r, { code: 0, stdout: "a b|it's|$HOME|`x`|", stderr: '' });
        const ip = await s.exec(['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
        assert.match(ip.stdout, new RegExp(`inet ${h.address.replaceAll('.', '\\.')}/`));
      } finally {
        s.close();
      }
    }
  });

  test('a pinned host key connects; a wrong one is refused naming the node and the key', async () => {
    const [a, b] = th.hosts as [TestHost, TestHost];
    const ok = await openSession(target(a, { knownHosts: undefined, hostKey: a.hostKey }), 5000);
    ok.close();
    await assert.rejects(
      openSession(target(a, { knownHosts: undefined, hostKey: b.hostKey }), 5000),
      new RegExp(
        `^Error: h0 \\(root@${a.address.replaceAll('.', '\\.')}:22\\): host key SHA256:\\S+ does not match the key pinned in the config; refusing to connect$`,
      ),
    );
  });

  test('a known_hosts file without the host, or with another key for it: refused', async () => {
    const a = th.hosts[0]!;
    const empty = join(th.hosts[0]!.dir, 'known_hosts.empty');
    await writeFile(empty, '# nothing\n');
    await assert.rejects(
      openSession(target(a, { knownHosts: empty }), 5000),
      new RegExp(`no host key for ${a.address} in ${empty}`),
    );
    const wrong = join(th.hosts[0]!.dir, 'known_hosts.wrong');
    await writeFile(wrong, `${a.address} ${th.hosts[1]!.hostKey}\n`);
    await assert.rejects(
      openSession(target(a, { knownHosts: wrong }), 5000),
      new RegExp(`^Error: h0 .*does not match the key in ${wrong}`),
    );
  });

  test('SFTP upload (directories made, mode set), then agent op on the host', async () => {
    const h = th.hosts[1]!;
    const s = await openSession(target(h), 5000);
    try {
      const remote = join(h.installDir, 'sub', 'file.txt');
      await writeFile(join(h.dir, 'local.txt'), 'payload');
      await s.upload(join(h.dir, 'local.txt'), remote, 0o640);
      assert.equal(await readFile(remote, 'utf8'), 'payload');
      assert.equal((await stat(remote)).mode & 0o777, 0o640);

      const nokube = [process.execPath, ENTRY];
      const service = {
        mode: 'process' as const,
        name: 'nokube-agent',
        command: ['/bin/sleep', '300'],
        pidFile: join(h.workspaceDir, 'agent.pid'),
        logFile: join(h.workspaceDir, 'agent.log'),
        stopTimeoutMs: 5000,
      };
      const facts = await runRemoteOp<HostFacts>(s, h.name, 'facts', nokube, {
        op: 'facts',
        binary: join(h.installDir, 'nokube'),
        files: [remote],
        diskPath: h.installDir,
        service,
      });
      assert.equal(facts.os, 'linux');
      assert.equal(facts.binary, null);
      assert.equal(facts.service.state, 'stopped');
      assert.equal(Object.values(facts.files)[0]?.length, 64);

      await assert.rejects(
        runRemoteOp(s, h.name, 'install binary', nokube, {
          op: 'install',
          files: [{ from: remote, to: join(h.installDir, 'sub', 'x'), sha256: '0'.repeat(64), mode: 0o755 }],
        }),
        new RegExp(
          `^Error: h1: install binary: install ${join(h.installDir, 'sub', 'x')}: uploaded file has sha256`,
        ),
      );
    } finally {
      s.close();
    }
  });

  test('a host whose nokube is older than the op schema: planned as an upgrade with a restart', async () => {
    const h = th.hosts[1]!;
    const config = validateConfigText(
      deployConfigText(th, {
        cluster: 'older',
        etcd: { endpoints: ['http://127.0.0.1:1'] },
        headPort: 7480,
        meshPort: 7946,
        nodes: [{ host: h, roles: ['head', 'worker'] }],
      }),
      'cluster.yaml',
    ).config;
    const t = nodeTarget(config, config.nodes[0]!);
    // What an older binary answers to an op it cannot validate.
    await mkdir(h.installDir, { recursive: true });
    await writeFile(
      t.binaryPath,
      `#!/bin/sh\necho '{"ok":false,"error":"agent op: invalid operation at service.recordFile: Unrecognized key"}'\nexit 1\n`,
      { mode: 0o755 },
    );
    const s = await openSession(t.node, 5000);
    try {
      const observed = await observeNode(s, t);
      assert.equal(observed?.binary?.version, 'older');
      const plan = planNode(
        {
          name: h.name,
          binarySha256: 'b'.repeat(64),
          configSha256: t.configSha256,
          configPath: t.configPath,
        },
        observed,
      );
      assert.deepEqual([plan.change, plan.steps], ['upgrade', ['upload-binary', 'upload-config', 'restart']]);
    } finally {
      s.close();
      await rm(t.binaryPath, { force: true });
    }
  });
});
