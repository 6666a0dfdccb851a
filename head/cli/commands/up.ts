// nokube up / down: a cluster on this machine (the quick start).
import type { Command } from 'commander';
import { signalExitCode } from '../output.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Documented defaults of `nokube up` (README "Quick start"). */
export const UP_DEFAULTS = {
  dir: '.nokube/local',
  etcdPort: '2379',
  headPort: '7480',
  meshPort: '7946',
  agentPort: '7947',
} as const;

export async function runUp(opts: {
  dir: string;
  file?: string;
  etcdPort?: string;
  headPort?: string;
  meshPort?: string;
  agentPort?: string;
  detach?: boolean;
}): Promise<void> {
  const { up } = await import('../local/up.ts');
  // Signals are ours from the start: Ctrl-C while starting stops what was started so far (and exits
  // 130); once up, it stops everything and exits 0. Repeats while stopping are ignored (the stop
  // itself SIGKILLs what does not end within 10 s).
  const starting = new AbortController();
  let stopCluster: (() => Promise<void>) | undefined;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    if (!stopCluster) {
      say(`${signal}: stopping what was started…`);
      starting.abort(new InterruptedError(signal));
      return;
    }
    say('stopping…');
    stopCluster().then(() => say('stopped'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const handle = await up({
      dir: opts.dir,
      clusterFile: opts.file,
      etcdPort: Number(opts.etcdPort ?? UP_DEFAULTS.etcdPort),
      headPort: Number(opts.headPort ?? UP_DEFAULTS.headPort),
      meshPort: Number(opts.meshPort ?? UP_DEFAULTS.meshPort),
      agentPort: Number(opts.agentPort ?? UP_DEFAULTS.agentPort),
      detach: opts.detach ?? false,
      readyTimeoutMs: 60_000,
      say,
      signal: starting.signal,
    });
    if (opts.detach) {
      say(`running in the background; stop with: nokube down --dir ${opts.dir}`);
      return;
    }
    stopCluster = handle.stop;
    say('cluster is up; press Ctrl-C to stop everything it started');
    await handle.done;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Ctrl-C (or SIGTERM) while `up` was starting: what it started is stopped; exit code 128 + signal. */
class InterruptedError extends Error {
  override name = 'InterruptedError';
  readonly exitCode: number;
  constructor(signal: NodeJS.Signals) {
    super(`${signal} while starting: everything started so far is stopped`);
    this.exitCode = signalExitCode(signal);
  }
}

export function registerUpDown(program: Command): void {
  program
    .command('up')
    .description(
      'bring up a cluster on this machine: etcd (Debian etcd-server), the config, a head+worker agent; Ctrl-C stops it',
    )
    .option(
      '-f, --file <cluster.yaml>',
      'use this config (its local nodes are started) instead of a generated one-host config',
    )
    .option('--dir <dir>', 'where the config, etcd data, workspace, logs and pids live', UP_DEFAULTS.dir)
    .option(
      '--etcd-port <port>',
      'etcd client port of the generated config (the etcd `up` starts listens for peers on the next port)',
      UP_DEFAULTS.etcdPort,
    )
    .option('--head-port <port>', 'head API port of the generated config', UP_DEFAULTS.headPort)
    .option('--mesh-port <port>', 'mesh port of the generated config', UP_DEFAULTS.meshPort)
    .option(
      '--agent-port <port>',
      'agent HTTP port (/metrics) of the generated config',
      UP_DEFAULTS.agentPort,
    )
    .option('-d, --detach', 'return once the cluster is up and leave it running (stop with `nokube down`)')
    .action((opts) => runUp(opts));
  program
    .command('down')
    .description('stop a cluster started by `nokube up` (agents leave the mesh first, then etcd stops)')
    .option('--dir <dir>', 'the directory given to `nokube up`', UP_DEFAULTS.dir)
    .action(async (opts: { dir: string }) => (await import('../local/up.ts')).down(opts.dir, say));
}
