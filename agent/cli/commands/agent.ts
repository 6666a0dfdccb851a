// nokube agent / nokube head: run this host's agent (and, on head nodes, the head API) until SIGTERM.
import type { Command } from 'commander';
import type { AgentOptions, AgentPart } from '../../agent.ts';
import type { Role } from '../../config/schema.ts';
import { createLogger } from '../../log/logger.ts';

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
  const common = (c: Command) =>
    c
      .requiredOption(
        '--config <source>',
        'cluster.yaml (its etcd section is used) or etcd://host:port/<cluster>',
      )
      .requiredOption('--node <name>', 'this host’s node name in the cluster config')
      .option(
        '--workspace <dir>',
        'local state dir when the config cannot be read (etcd:// sources whose etcd is down)',
      );
  common(
    program
      .command('agent')
      .description(
        'run the agent of this host: registers the node in etcd, joins the mesh, applies config changes live; serves the head API when the node has the head role',
      ),
  ).action((opts) => run(opts));
  common(
    program
      .command('head')
      .description('run the agent of a head node (fails unless the node has the head role)'),
  ).action((opts) => run(opts, 'head'));
}
