// One node's deploy over its SSH session: observe it (the installed binary reports its facts; a bare host
// is checked for OS and architecture with `uname`), stage the uploads (next to their targets, harmless to
// what runs: hosts in parallel), then activate: each staged file installs itself through the binary's own
// `agent op install` (checked, renamed: never a half-written binary), then the service starts or restarts.
// Errors: "<node>: <step>: <reason>".
import type { HostFacts } from '../../../agent/op/facts.ts';
import { encodeOp } from '../../../agent/op/op.ts';
import type { Op } from '../../../agent/op/op-schema.ts';
import type { NodeTarget } from './node-target.ts';
import { type NodePlan, noDocker, type ObservedNode, type Step } from './plan.ts';
import { DeployStepError, opResult, runRemoteOp } from './ssh/remote-op.ts';
import type { SshSession } from './ssh/session.ts';

export interface LocalBinary {
  path: string;
  sha256: string;
}

/** `uname -sm` words -> Node's platform / arch names (what the binary was built for). */
const UNAME_OS: Record<string, string> = { Linux: 'linux', Darwin: 'darwin' };
const UNAME_ARCH: Record<string, string> = { x86_64: 'x64', aarch64: 'arm64', arm64: 'arm64', armv7l: 'arm' };

export async function observeNode(s: SshSession, t: NodeTarget): Promise<ObservedNode> {
  const op: Op = {
    op: 'facts',
    binary: t.binaryPath,
    files: [t.configPath],
    diskPath: t.node.ssh.installDir,
    service: t.service,
  };
  // One round trip: the installed binary reports its own facts; 127 is the shell finding none there.
  const r = await s.exec([t.binaryPath, 'agent', 'op', encodeOp(op)]);
  if (r.code !== 127) {
    // A binary older than this deploy's op schema refuses the op as invalid: it is an upgrade.
    if (r.code !== 0 && /agent op: invalid operation|unknown command 'op'/.test(r.stdout + r.stderr))
      return olderBinaryFacts(s, t);
    return opResult<HostFacts>(r, t.node.name, 'facts');
  }
  const uname = await s.exec(['uname', '-sm']);
  const [os = '', machine = ''] = uname.stdout.trim().split(/\s+/);
  const platform = UNAME_OS[os] ?? os;
  const arch = UNAME_ARCH[machine] ?? machine;
  if (uname.code !== 0 || platform !== process.platform || arch !== process.arch)
    throw new DeployStepError(
      t.node.name,
      'facts',
      uname.code !== 0
        ? `uname -sm failed (exit ${uname.code}): ${uname.stderr.trim()}`
        : `the host is ${os} ${machine}; this nokube binary is built for ${process.platform} ${process.arch}`,
    );
  // Docker mode on a bare host: no engine socket is known before anything is uploaded.
  if (t.service.mode === 'docker' && !(await s.exists(t.service.socket)))
    throw new DeployStepError(t.node.name, 'plan', noDocker(t.service));
  return null;
}

/** What is known of a host whose installed nokube is too old to answer facts: a binary that must be
 * replaced (no checksum can match), a process-mode agent that may run (a restart of a stopped one starts
 * it), no config checksum; the Docker socket looked up over SFTP. */
async function olderBinaryFacts(s: SshSession, t: NodeTarget): Promise<HostFacts> {
  const socket = t.service.mode === 'docker' ? t.service.socket : '/var/run/docker.sock';
  const hasSocket = await s.exists(socket);
  return {
    os: process.platform,
    arch: process.arch,
    kernel: 'unknown',
    distro: null,
    docker: {
      cli: false,
      socket: hasSocket,
      engine: hasSocket ? 'unknown (older nokube on the host)' : null,
    },
    freeDiskBytes: 0,
    binary: { sha256: "older nokube (refuses this deploy's facts op)", version: 'older' },
    files: {},
    service: { mode: 'process', state: 'running', pid: null, command: null },
  };
}

async function step(node: string, name: Step, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof DeployStepError) throw err;
    throw new DeployStepError(node, name, err instanceof Error ? err.message : String(err));
  }
}

const staged = (path: string) => `${path}.upload`;

/** Upload what the plan replaces, next to its target. Nothing that runs is touched. */
export async function stageNode(s: SshSession, t: NodeTarget, plan: NodePlan, binary: LocalBinary) {
  const name = t.node.name;
  if (plan.steps.includes('upload-binary'))
    await step(name, 'upload-binary', () => s.upload(binary.path, staged(t.binaryPath), 0o755));
  if (plan.steps.includes('upload-config'))
    await step(name, 'upload-config', async () => {
      await s.write(staged(t.configPath), t.configText, 0o600);
      for (const f of t.tlsFiles) await s.upload(f.local, staged(f.remote), 0o600);
    });
}

/** Install the staged files (binary first: the config is installed by the new binary) and start or
 * restart the service, as the plan says. */
export async function activateNode(
  s: SshSession,
  t: NodeTarget,
  plan: NodePlan,
  binary: LocalBinary,
  onStep: (step: Step) => void,
): Promise<void> {
  const name = t.node.name;
  for (const st of plan.steps) {
    onStep(st);
    if (st === 'upload-binary') {
      await runRemoteOp(s, name, st, [staged(t.binaryPath)], {
        op: 'install',
        files: [{ from: staged(t.binaryPath), to: t.binaryPath, sha256: binary.sha256, mode: 0o755 }],
      });
    } else if (st === 'upload-config') {
      // The certificates first: the node file that names their checksums goes last.
      await runRemoteOp(s, name, st, [t.binaryPath], {
        op: 'install',
        files: [
          ...t.tlsFiles.map((f) => ({ from: staged(f.remote), to: f.remote, sha256: f.sha256, mode: 0o600 })),
          { from: staged(t.configPath), to: t.configPath, sha256: t.configSha256, mode: 0o600 },
        ],
      });
    } else if (st === 'start' || st === 'restart' || st === 'stop') {
      await runRemoteOp(s, name, st, [t.binaryPath], { op: st, service: t.service });
    }
  }
}
