// `nokube agent` and `nokube head` alone: the process every host runs parses its command line without
// evaluating the other commands' modules (the client commands, the deploy and their libraries).
import { Command } from 'commander';
import type { AgentPart } from '../context.ts';
import { VERSION } from '../version.ts';
import { registerAgentCommands } from './agent-command.ts';
import { runProgram } from './run-program.ts';

/** Is this command line one of the agent's (so agentMain can run it)? */
export const isAgentCommand = (argv: string[]): boolean => argv[2] === 'agent' || argv[2] === 'head';

export async function agentMain(argv: string[], loadParts: () => Promise<AgentPart[]>): Promise<void> {
  const program = new Command('nokube').version(VERSION, '-v, --version');
  registerAgentCommands(program, loadParts);
  await runProgram(program, argv);
}
