// The nokube command line: every role of the single binary is a subcommand.
import { Command } from 'commander';
import { registerAgentCommands } from '../../agent/cli/agent-command.ts';
import { runProgram } from '../../agent/cli/run-program.ts';
import type { AgentPart } from '../../agent/context.ts';
import { VERSION } from '../../agent/version.ts';
import { registerAcl } from './commands/acl.ts';
import { registerApply } from './commands/apply.ts';
import { registerAudit } from './commands/audit.ts';
import { registerConfigCommands } from './commands/config.ts';
import { registerCreate } from './commands/create.ts';
import { registerDelete } from './commands/delete.ts';
import { registerDescribe } from './commands/describe.ts';
import { registerGet } from './commands/get.ts';
import { registerLogin } from './commands/login.ts';
import { registerMembers } from './commands/members.ts';
import { registerMeshKey } from './commands/mesh-key.ts';
import { registerNewOrUpdate } from './commands/new-or-update.ts';
import { registerNodeCommands } from './commands/node-cordon.ts';
import { registerPodStreams } from './commands/pod-stream.ts';
import { registerPrewarm } from './commands/prewarm.ts';
import { registerRollout } from './commands/rollout.ts';
import { registerScale, registerSetImage } from './commands/scale.ts';
import { registerSecrets } from './commands/secrets.ts';
import { registerTls } from './commands/tls.ts';
import { registerTop } from './commands/top.ts';
import { registerUpDown } from './commands/up.ts';

// Commands load what they run (etcd, libp2p, Docker, the deploy code) inside their actions, so a client
// command such as `apply` or `get` starts without evaluating the agent: keep heavy imports out of the
// command files' top level.
export function buildProgram(loadParts: () => Promise<AgentPart[]>): Command {
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
  registerCreate(program);
  registerGet(program);
  registerDescribe(program);
  registerDelete(program);
  registerRollout(program);
  registerPrewarm(program);
  registerScale(program);
  registerSetImage(program);
  registerNodeCommands(program);
  registerMembers(program);
  registerTop(program);
  registerMeshKey(program);
  registerTls(program);
  registerAudit(program);
  registerSecrets(program);
  registerPodStreams(program);
  registerLogin(program);
  registerAcl(program);
  registerAgentCommands(program, loadParts);
  return program;
}

/** Run the CLI; known errors print one line (or one per config problem) and exit non-zero. */
export async function main(argv: string[], loadParts: () => Promise<AgentPart[]>): Promise<void> {
  await runProgram(buildProgram(loadParts), argv);
}
