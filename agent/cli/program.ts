// The nokube command line: every role of the single binary is a subcommand.
import { Command, CommanderError } from 'commander';
import type { AgentPart } from '../agent.ts';
import { ConfigError } from '../config/validate.ts';
import { AgentStartError } from '../errors.ts';
import { ConfigConflictError } from '../store/config-store.ts';
import { EtcdUnreachableError } from '../store/etcd.ts';
import { VERSION } from '../version.ts';
import { registerAgentCommands } from './commands/agent.ts';
import { registerApply } from './commands/apply.ts';
import { registerConfigCommands } from './commands/config.ts';
import { registerDelete } from './commands/delete.ts';
import { registerDescribe } from './commands/describe.ts';
import { registerGet } from './commands/get.ts';
import { registerMembers } from './commands/members.ts';
import { registerMeshKey } from './commands/mesh-key.ts';
import { registerNewOrUpdate } from './commands/new-or-update.ts';
import { registerPodStreams } from './commands/pod-stream.ts';
import { registerTop } from './commands/top.ts';
import { registerUpDown } from './commands/up.ts';
import { UsageError } from './output.ts';

export function buildProgram(parts: AgentPart[]): Command {
  const program = new Command('nokube')
    .description(
      'nokube: an edge, agent-first cluster manager. One binary per host; etcd for truth, a gossip mesh for speed.',
    )
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false });
  registerUpDown(program);
  registerNewOrUpdate(program);
  registerConfigCommands(program);
  registerApply(program);
  registerGet(program);
  registerDescribe(program);
  registerDelete(program);
  registerMembers(program);
  registerTop(program);
  registerMeshKey(program);
  registerPodStreams(program);
  registerAgentCommands(program, parts);
  return program;
}

/** Run the CLI; known errors print one line (or one per config problem) and exit non-zero. */
export async function main(argv: string[], parts: AgentPart[]): Promise<void> {
  const program = buildProgram(parts);
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    const known =
      err instanceof ConfigError ||
      err instanceof UsageError ||
      err instanceof EtcdUnreachableError ||
      err instanceof ConfigConflictError ||
      err instanceof AgentStartError ||
      [
        'MeshPortInUseError',
        'HeadPortInUseError',
        'AgentPortInUseError',
        'FileServerPortInUseError',
      ].includes((err as Error).constructor?.name);
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(
      message
        .split('\n')
        .map((l) => `error: ${l}`)
        .join('\n') + '\n',
    );
    if (!known && process.env.NOKUBE_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  }
}
