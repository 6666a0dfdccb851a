// The CLI end of `nokube agent op`: one JSON line on stdout either way; exit code 1 on failure.
import { decodeOp, runOp } from './op.ts';

export async function runAgentOp(arg: string): Promise<number> {
  try {
    const result = await runOp(decodeOp(arg));
    process.stdout.write(`${JSON.stringify({ ok: true, result })}\n`);
    return 0;
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    process.stdout.write(`${JSON.stringify({ ok: false, error })}\n`);
    process.stderr.write(`${error}\n`);
    return 1;
  }
}
