// A command on a pseudo-terminal, driven by a script of steps (test/harness/pty-driver.py: Python's pty
// module, no native Node module needed). For tests of what the CLI does on a terminal: raw mode, sizes,
// keys.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { findOnPath } from '../../agent/op/processes.ts';
import { REPO } from './cluster.ts';

export type PtyStep =
  | { wait: string }
  | { write: string }
  | { writeUntil: string; until: string }
  | { resize: [rows: number, cols: number] };

export interface PtyResult {
  output: string;
  exitCode: number | null;
  signal: number | null;
  /** The step that timed out, if one did. */
  failed: PtyStep | null;
}

export function runOnPty(opts: {
  argv: string[];
  env?: Record<string, string>;
  rows: number;
  cols: number;
  steps: PtyStep[];
  timeoutSeconds?: number;
}): Promise<PtyResult> {
  const python = findOnPath('python3');
  if (!python) throw new Error('python3 not found: the terminal tests drive a pty with its pty module');
  const spec = JSON.stringify({ ...opts, timeout: opts.timeoutSeconds ?? 20 });
  return new Promise((resolve, reject) => {
    execFile(
      python,
      [join(REPO, 'test/harness/pty-driver.py'), spec],
      { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`pty-driver.py: ${err.message}\n${stderr}`));
        resolve(JSON.parse(stdout) as PtyResult);
      },
    );
  });
}
