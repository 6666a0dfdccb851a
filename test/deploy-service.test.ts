// The agent service's modes where no engine or init system is needed: the systemd unit text and the
// refusal on a machine where systemd is not the init system (this one), the op schema of each mode, and
// the plan's rules for docker mode (no engine -> refused naming node and field) and a change of mode.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { HostFacts } from '../agent/op/facts.ts';
import { decodeOp, encodeOp } from '../agent/op/op.ts';
import type { ServiceSpec, ServiceSpecOf } from '../agent/op/op-schema.ts';
import { serviceState, startService } from '../agent/op/service.ts';
import { unitText } from '../agent/op/service-systemd.ts';
import { type DesiredNode, planNode } from '../head/cli/deploy/plan.ts';

const systemd = (dir: string): ServiceSpecOf<'systemd'> => ({
  mode: 'systemd',
  name: 'nokube-agent',
  command: ['/opt/nokube/nokube', 'agent', '--config', 'etcd://10.0.0.1:2379/prod', '--node', 'a b$%"'],
  stopTimeoutMs: 15_000,
  recordFile: join(dir, 'service.json'),
  unitDir: join(dir, 'units'),
  description: 'nokube agent (node a)',
});

test('systemd: the unit file text (argv quoted for systemd, % and $ doubled)', () => {
  assert.equal(
    unitText(systemd('/x')),
    [
      '# Written by nokube (agent op, new-or-update over SSH); a rerun overwrites it.',
      '[Unit]',
      'Description=nokube agent (node a)',
      'Wants=network-online.target',
      'After=network-online.target docker.service',
      '',
      '[Service]',
      'Type=simple',
      'ExecStart=/opt/nokube/nokube agent --config etcd://10.0.0.1:2379/prod --node "a b$$%%\\""',
      'Restart=always',
      'RestartSec=2',
      'KillSignal=SIGTERM',
      'TimeoutStopSec=15',
      '',
      '[Install]',
      'WantedBy=multi-user.target',
      '',
    ].join('\n'),
  );
});

test("systemd: systemd's own parser accepts the unit (systemd-analyze verify), specifiers and quotes included", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nokube-systemd-'));
  try {
    // The command must exist for verify: this node binary, with words that need quoting and escaping.
    const spec = {
      ...systemd(dir),
      command: [process.execPath, 'agent', '--node', 'a b$%"\\x', '--config', 'etcd://10.0.0.1:2379/prod'],
    };
    await mkdir(spec.unitDir, { recursive: true });
    const unit = join(spec.unitDir, 'nokube-agent.service');
    await writeFile(unit, unitText(spec));
    const verify = (path: string) =>
      promisify(execFile)('systemd-analyze', ['verify', '--man=no', '--generators=no', path]).then(
        (r) => ({ ok: true, stderr: ours(r.stderr) }),
        (err: { stderr: string }) => ({ ok: false, stderr: ours(err.stderr) }),
      );
    // Only what verify says about our unit: other units of the host may have their own warnings.
    const ours = (stderr: string) =>
      stderr
        .split('\n')
        .filter((l) => l.includes(spec.unitDir))
        .join('\n');
    assert.deepEqual(await verify(unit), { ok: true, stderr: '' });
    // The check can fail: a lone % (an unknown specifier) and an unbalanced quote are refused.
    const bad = join(spec.unitDir, 'bad.service');
    await writeFile(bad, unitText(spec).replace('%%', '%z'));
    assert.match((await verify(bad)).stderr, /Failed to resolve unit specifiers/);
    await writeFile(bad, unitText(spec).replace('"a b', 'a b'));
    assert.match((await verify(bad)).stderr, /Unbalanced quoting/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('systemd: no unit yet -> stopped; start where systemd is not the init system -> a clear error, nothing written', async () => {
  // This machine runs no systemd (no /run/systemd/system): what can be tested here is the refusal.
  assert.equal(existsSync('/run/systemd/system'), false, 'this test expects a machine without systemd');
  const dir = await mkdtemp(join(tmpdir(), 'nokube-systemd-'));
  try {
    const spec = systemd(dir);
    assert.deepEqual(await serviceState(spec), {
      mode: 'systemd',
      state: 'stopped',
      pid: null,
      command: null,
    });
    await assert.rejects(
      startService(spec),
      /systemd service mode needs (systemd as the init system, and it is not running here|systemctl, and it is not on PATH)/,
    );
    assert.equal(existsSync(join(dir, 'units', 'nokube-agent.service')), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('op schema: each mode has its own fields; a relative docker socket is refused', () => {
  const docker: ServiceSpec = {
    mode: 'docker',
    name: 'nokube-agent',
    command: ['/opt/nokube/nokube', 'agent'],
    stopTimeoutMs: 15_000,
    socket: '/var/run/docker.sock',
    image: 'nokube-agent',
    mounts: ['/var/run/docker.sock', '/var/lib/nokube'],
    labels: { 'nokube.service.node': 'a' },
    podNetwork: true,
  };
  assert.deepEqual(decodeOp(encodeOp({ op: 'state', service: docker })), { op: 'state', service: docker });
  assert.throws(
    () => decodeOp(encodeOp({ op: 'state', service: { ...docker, socket: 'docker.sock' } })),
    /invalid operation at service\.socket: must be an absolute path/,
  );
  assert.throws(
    () =>
      decodeOp(encodeOp({ op: 'start', service: { ...docker, pidFile: '/x' } as unknown as ServiceSpec })),
    /invalid operation at service/,
  );
});

const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
const dockerSpec: ServiceSpec = {
  mode: 'docker',
  name: 'nokube-agent',
  command: ['/opt/nokube/nokube'],
  stopTimeoutMs: 15_000,
  socket: '/run/other/docker.sock',
  image: 'nokube-agent',
  mounts: [],
  labels: {},
  podNetwork: false,
};
const desired: DesiredNode = {
  name: 'h0',
  binarySha256: B,
  configSha256: C,
  configPath: '/opt/nokube/node.json',
  service: dockerSpec,
};
const facts = (o: { engine: string | null; mode: 'process' | 'docker'; config?: string }): HostFacts => ({
  os: 'linux',
  arch: 'x64',
  kernel: '6',
  distro: null,
  docker: { cli: false, socket: o.engine !== null, engine: o.engine },
  freeDiskBytes: 1e9,
  binary: { sha256: B, version: '0.1.0' },
  files: { '/opt/nokube/node.json': o.config ?? C },
  service: { mode: o.mode, state: 'running', pid: 9, command: ['x'] },
});

test('plan: docker mode where no engine answers is refused, naming the node and the field', () => {
  assert.throws(
    () => planNode(desired, facts({ engine: null, mode: 'docker' })),
    /^Error: h0: plan: nodes\[\]\.ssh\.service is docker, but no Docker engine answers at \/run\/other\/docker\.sock/,
  );
  assert.equal(planNode(desired, facts({ engine: '20.10.24', mode: 'docker' })).change, 'nothing to do');
});

test('plan: a change of service mode restarts the node (the old service stopped, the new one started)', () => {
  const p = planNode(desired, facts({ engine: '20.10.24', mode: 'process', config: 'd'.repeat(64) }));
  assert.equal(p.change, 'config change');
  assert.deepEqual(p.steps, ['upload-config', 'restart']);
  assert.ok(p.reasons.includes('service process -> docker'), p.reasons.join('; '));
  // Even when nothing else differs (a node file written by hand, say).
  const q = planNode(desired, facts({ engine: '20.10.24', mode: 'process' }));
  assert.deepEqual([q.change, q.steps], ['config change', ['restart']]);
});
