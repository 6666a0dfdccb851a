// One node's deploy over its SSH session: observe (is the binary there? then its facts), and apply a
// plan's steps in order. A new binary is uploaded next to the installed one and installs itself (its own
// `agent op install`), so a host never runs a half-written binary. Errors: "<node>: <step>: <reason>".
import { createHash } from 'node:crypto';
import type { HostFacts } from './facts.ts';
import type { NodeTarget } from './node-target.ts';
import type { NodePlan, ObservedNode, Step } from './plan.ts';
import { DeployStepError, runRemoteOp } from './ssh/remote-op.ts';
import type { SshSession } from './ssh/session.ts';

export async function observeNode(s: SshSession, t: NodeTarget): Promise<ObservedNode> {
  if (!(await s.exists(t.binaryPath))) return null;
  return runRemoteOp<HostFacts>(s, t.node.name, 'facts', [t.binaryPath], {
    op: 'facts',
    binary: t.binaryPath,
    files: [t.configPath],
    diskPath: t.node.ssh.installDir,
    service: t.service,
  });
}

export interface LocalBinary {
  path: string;
  sha256: string;
}

async function step(node: string, name: Step, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof DeployStepError) throw err;
    throw new DeployStepError(node, name, err instanceof Error ? err.message : String(err));
  }
}

export async function applyNode(
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
      const upload = `${t.binaryPath}.upload`;
      await step(name, st, () => s.upload(binary.path, upload, 0o755));
      await runRemoteOp(s, name, st, [upload], {
        op: 'install',
        files: [{ from: upload, to: t.binaryPath, sha256: binary.sha256, mode: 0o755 }],
      });
    } else if (st === 'upload-config') {
      const upload = `${t.configPath}.upload`;
      await step(name, st, () => s.write(upload, t.configText, 0o600));
      const sha256 = createHash('sha256').update(t.configText).digest('hex');
      await runRemoteOp(s, name, st, [t.binaryPath], {
        op: 'install',
        files: [{ from: upload, to: t.configPath, sha256, mode: 0o600 }],
      });
    } else {
      await runRemoteOp(s, name, st, [t.binaryPath], { op: st, service: t.service });
    }
  }
}
