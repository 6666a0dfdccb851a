// Run one `nokube agent op` on a node over its SSH session and return its result. The error names the
// node and the step, with the host's own reason (its JSON error line, else its stderr).

import { encodeOp } from '../../../../agent/op/op.ts';
import type { Op } from '../../../../agent/op/op-schema.ts';
import type { ExecResult, SshSession } from './session.ts';

export class DeployStepError extends Error {
  node: string;
  step: string;
  constructor(node: string, step: string, reason: string) {
    super(`${node}: ${step}: ${reason}`);
    this.node = node;
    this.step = step;
  }
}

/** `nokube` is the argv that runs the binary on the host (its installed path, or an upload to try). */
export async function runRemoteOp<T>(
  session: SshSession,
  node: string,
  step: string,
  nokube: string[],
  op: Op,
): Promise<T> {
  return opResult<T>(await session.exec([...nokube, 'agent', 'op', encodeOp(op)]), node, step);
}

/** The result of an `agent op` run, or the DeployStepError naming node, step and the host's reason. */
export function opResult<T>(r: ExecResult, node: string, step: string): T {
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  const out = parseLine(last);
  if (r.code === 0 && out?.ok === true) return out.result as T;
  const reason = out?.error ?? (r.stderr.trim().split('\n').at(-1) || `exit code ${r.code}, no output`);
  throw new DeployStepError(node, step, reason);
}

interface OpOutput {
  ok?: boolean;
  result?: unknown;
  error?: string;
}

function parseLine(line: string): OpOutput | null {
  try {
    return JSON.parse(line) as OpOutput;
  } catch {
    return null;
  }
}
