// What the nokube binary runs, by command line. Each branch loads only its own modules (dynamic imports are
// evaluated on first use, in the bundle too): `agent op` (a deploy step, run once per host per deploy over
// SSH) the op code alone; `agent` / `head` (the process every host keeps running) the agent's command
// line, and the head's parts only on a head node; anything else the whole CLI.
import { agentMain, isAgentCommand } from '../../agent/cli/agent-program.ts';

export async function runNokube(argv: string[]): Promise<void> {
  if (argv[2] === 'agent' && argv[3] === 'op' && argv.length === 5) {
    const { runAgentOp } = await import('../../agent/op/op-command.ts');
    process.exitCode = await runAgentOp(argv[4]!);
    return;
  }
  const loadParts = async () => (await import('../head-part.ts')).headParts;
  if (isAgentCommand(argv)) return agentMain(argv, loadParts);
  const { main } = await import('./program.ts');
  await main(argv, loadParts);
}
