// Running a nokube command line (the whole CLI, or the agent's alone): what an error prints and the exit
// code it gives.
import { type Command, CommanderError } from 'commander';
import { UsageError } from '../errors.ts';

/** Errors whose message is the whole story (no stack even with NOKUBE_DEBUG); matched by their `name`
 * (each sets it: a bundler may rename a class) so this file need not load the modules that define them.
 * One may carry its own `exitCode` (else 1). */
const KNOWN_ERRORS = new Set([
  'ConfigError',
  'EtcdUnreachableError',
  'ConfigConflictError',
  'AgentStartError',
  'MeshPortInUseError',
  'HeadPortInUseError',
  'AgentPortInUseError',
  'FileServerPortInUseError',
  'InterruptedError',
  'WaitTimeoutError',
  'RolloutFailedError',
  'ChangeRefusedError',
  'KeyringError',
]);

/** Run a nokube command line; known errors print one line (or one per config problem) and exit non-zero. */
export async function runProgram(program: Command, argv: string[]): Promise<void> {
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    const known = err instanceof UsageError || KNOWN_ERRORS.has((err as Error).name);
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(
      message
        .split('\n')
        .map((l) => `error: ${l}`)
        .join('\n') + '\n',
    );
    if (!known && process.env.NOKUBE_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    const own = (err as { exitCode?: unknown }).exitCode;
    process.exitCode = err instanceof UsageError ? 2 : known && typeof own === 'number' ? own : 1;
  }
}
