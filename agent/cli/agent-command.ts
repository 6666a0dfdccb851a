// nokube agent / nokube head: run this host's agent (and, on head nodes, the head API) until SIGTERM.
import type { Command } from 'commander';
import type { AgentOptions } from '../agent.ts';
import type { Role } from '../config/schema.ts';
import type { AgentPart } from '../context.ts';
import { UsageError } from '../errors.ts';

/** `loadParts` gives the parts a head binary adds (loaded only when an agent starts). */
export function registerAgentCommands(program: Command, loadParts: () => Promise<AgentPart[]>): void {
  type RunOpts = {
    config: string;
    node: string;
    workspace?: string;
    etcdCa?: string;
    etcdCert?: string;
    etcdKey?: string;
    tlsCa?: string;
    tlsCert?: string;
    tlsKey?: string;
    secretsKey?: string;
  };
  const run = async (opts: RunOpts, requireRole?: Role) => {
    const tls = [opts.etcdCa, opts.etcdCert, opts.etcdKey];
    if (tls.some((f) => f !== undefined) && !tls.every((f) => f !== undefined))
      throw new UsageError('--etcd-ca, --etcd-cert and --etcd-key go together (all three or none)');
    const nodeTls = [opts.tlsCa, opts.tlsCert, opts.tlsKey];
    if (nodeTls.some((f) => f !== undefined) && !nodeTls.every((f) => f !== undefined))
      throw new UsageError('--tls-ca, --tls-cert and --tls-key go together (all three or none)');
    // Loaded here, not at the top: client commands should not pay for libp2p's start-up.
    const [{ startAgent }, { createAgentLogger }] = await Promise.all([
      import('../agent.ts'),
      import('../log/logger.ts'),
    ]);
    const log = await createAgentLogger({ node: opts.node });
    const agentOpts: AgentOptions = {
      configSource: opts.config,
      nodeName: opts.node,
      log,
      parts: await loadParts(),
    };
    if (opts.workspace) agentOpts.workspace = opts.workspace;
    if (opts.secretsKey) agentOpts.secretsKeyFile = opts.secretsKey;
    if (opts.etcdCa && opts.etcdCert && opts.etcdKey)
      agentOpts.etcdTls = { ca: opts.etcdCa, cert: opts.etcdCert, key: opts.etcdKey };
    if (opts.tlsCa && opts.tlsCert && opts.tlsKey)
      agentOpts.nodeTls = { ca: opts.tlsCa, cert: opts.tlsCert, key: opts.tlsKey };
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
      )
      .option('--etcd-ca <file>', 'CA certificate of etcd, for an etcds:// source')
      .option('--etcd-cert <file>', 'client certificate for etcd, for an etcds:// source')
      .option('--etcd-key <file>', 'client key for etcd, for an etcds:// source')
      .option('--tls-ca <file>', 'the cluster CA certificate (config tls; uploaded by new-or-update)')
      .option('--tls-cert <file>', 'this node’s certificate, signed by the cluster CA (config tls)')
      .option('--tls-key <file>', 'this node’s private key (config tls)')
      .option(
        '--secrets-key <file>',
        'the cluster secrets keyring (JSON, mode 0600; watched for new keys): Secrets are encrypted with it in etcd and in the local pod cache',
      );
  const agent = common(
    program
      .command('agent')
      .description(
        'run the agent of this host: registers the node in etcd, joins the mesh, applies config changes live; serves the head API when the node has the head role',
      ),
    true,
  ).action((opts: Partial<RunOpts>) => {
    for (const [flag, v] of [
      ['--config <source>', opts.config],
      ['--node <name>', opts.node],
    ] as const)
      if (v === undefined) throw new UsageError(`required option '${flag}' not specified`);
    return run(opts as RunOpts);
  });
  agent
    .command('op <base64-json>')
    .description(
      'run one deploy operation on this host (facts, install, start, stop, restart, state) and print its result as JSON; used by new-or-update over SSH',
    )
    .action(async (arg: string) => {
      const { runAgentOp } = await import('../op/op-command.ts');
      process.exitCode = await runAgentOp(arg);
    });
  common(
    program
      .command('head')
      .description('run the agent of a head node (fails unless the node has the head role)'),
  ).action((opts) => run(opts, 'head'));
}
