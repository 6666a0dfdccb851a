// nokube agent / nokube head: run this host's agent (and, on head nodes, the head API) until SIGTERM.
import type { Command } from 'commander';
import type { AgentOptions, AgentPart } from '../../agent.ts';
import type { Role } from '../../config/schema.ts';
import { createLogger } from '../../log/logger.ts';
import { UsageError } from '../output.ts';

export function registerAgentCommands(program: Command, parts: AgentPart[]): void {
  const run = async (opts: { config: string; node: string; workspace?: string }, requireRole?: Role) => {
    // Loaded here, not at the top: client commands should not pay for libp2p's start-up.
    const { startAgent } = await import('../../agent.ts');
    const log = createLogger({ node: opts.node });
    const agentOpts: AgentOptions = {
      configSource: opts.config,
      nodeName: opts.node,
      log,
      parts,
    };
    if (opts.workspace) agentOpts.workspace = opts.workspace;
    if (requireRole) agentOpts.requireRole = requireRole;
    const agent = await startAgent(agentOpts);
    await new Promise<void>((resolve) => {
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'stopping: leaving the mesh');
        agent.stop().then(resolve, (err) => {
          log.error({ err: String(err) }, 'stop failed');
          resolve();
        });
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    });
    await new Promise<void>((resolve) => log.flush(() => resolve()));
  };
  // `agent` has a subcommand (op), and commander would demand a parent's required options of it too:
  // there they are checked in the action instead.
  const common = (c: Command, checkInAction = false) =>
    c[checkInAction ? 'option' : 'requiredOption'](
      '--config <source>',
      'cluster.yaml (its etcd section is used) or etcd://host:port/<cluster>',
    )
      [checkInAction ? 'option' : 'requiredOption'](
        '--node <name>',
        'this host’s node name in the cluster config',
      )
      .option(
        '--workspace <dir>',
        'local state dir when the config cannot be read (etcd:// sources whose etcd is down)',
      );
  const agent = common(
    program
      .command('agent')
      .description(
        'run the agent of this host: registers the node in etcd, joins the mesh, applies config changes live; serves the head API when the node has the head role',
      ),
    true,
  ).action((opts: { config?: string; node?: string; workspace?: string }) => {
    for (const [flag, v] of [
      ['--config <source>', opts.config],
      ['--node <name>', opts.node],
    ] as const)
      if (v === undefined) throw new UsageError(`required option '${flag}' not specified`);
    return run(opts as { config: string; node: string; workspace?: string });
  });
  agent
    .command('op <base64-json>')
    .description(
      'run one deploy operation on this host (facts, install, start, stop, restart, state) and print its result as JSON; used by new-or-update over SSH',
    )
    .action(async (arg: string) => {
      const { runAgentOp } = await import('../../deploy/op-command.ts');
      process.exitCode = await runAgentOp(arg);
    });
  common(
    program
      .command('head')
      .description('run the agent of a head node (fails unless the node has the head role)'),
  ).action((opts) => run(opts, 'head'));
}
