// nokube top nodes|pods: CPU and memory (and network for nodes) as kubectl top prints them, from the
// telemetry summaries the heads keep (one per node per monitoring interval).
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';
import type { TopNode, TopPod } from '../../../agent/telemetry/top.ts';
import { type HeadFlags, headGet } from '../head-client.ts';
import { serialize, table } from '../output.ts';

const cores = (n: number) => `${Math.round(n * 1000)}m`;
const mib = (n: number) => `${Math.round(n / 2 ** 20)}Mi`;
const rate = (n: number) =>
  n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)}Mi/s` : `${Math.round(n / 1024)}Ki/s`;
const NO_DATA =
  'no figures yet: agents report each monitoring interval (monitoring.metricsIntervalSeconds, 10 s without monitoring)';

interface TopFlags extends HeadFlags {
  output?: string;
  namespace?: string;
  allNamespaces?: boolean;
}

export function registerTop(program: Command): void {
  const top = program.command('top').description('CPU and memory of nodes or pods (like kubectl top)');
  const common = (c: Command) =>
    c
      .option('-o, --output <format>', 'json or yaml')
      .option('--server <url>', 'head API URL (env NOKUBE_SERVER); default: a head found in etcd')
      .option('--etcd <urls>', 'etcd endpoints, comma-separated (env NOKUBE_ETCD)')
      .option('--cluster <name>', 'cluster name (env NOKUBE_CLUSTER)');
  common(top.command('nodes [name]').description('CPU, memory and network of each node')).action(
    async (name: string | undefined, opts: TopFlags) => {
      const { body } = await headGet<{ items: TopNode[] }>(opts, '/api/v1/top/nodes');
      const items = name ? body.items.filter((n) => n.node === name) : body.items;
      if (name && items.length === 0) throw new Error(`node "${name}": ${NO_DATA}`);
      if (print(opts, { items })) return;
      if (items.length === 0) throw new Error(NO_DATA);
      process.stdout.write(
        table(
          ['NAME', 'CPU(cores)', 'CPU%', 'MEMORY(bytes)', 'MEMORY%', 'NET RX', 'NET TX'],
          items.map((n) => [
            n.node,
            cores(n.cpuCores),
            `${Math.round(n.cpuRatio * 100)}%`,
            mib(n.memoryBytes),
            `${n.memoryTotalBytes ? Math.round((n.memoryBytes / n.memoryTotalBytes) * 100) : 0}%`,
            rate(n.rxBytesPerSecond),
            rate(n.txBytesPerSecond),
          ]),
        ),
      );
    },
  );
  common(
    top
      .command('pods [name]')
      .description('CPU and memory of each pod (the sum of its containers)')
      .option('-n, --namespace <ns>', 'namespace (default "default")')
      .option('-A, --all-namespaces', 'pods of every namespace', false),
  ).action(async (name: string | undefined, opts: TopFlags) => {
    const ns = opts.allNamespaces ? undefined : (opts.namespace ?? 'default');
    const { body } = await headGet<{ items: TopPod[] }>(
      opts,
      `/api/v1/top/pods${ns ? `?namespace=${encodeURIComponent(ns)}` : ''}`,
    );
    const items = name ? body.items.filter((p) => p.pod === name) : body.items;
    if (print(opts, { items })) return;
    if (items.length === 0)
      throw new Error(
        name ? `pod "${name}": ${NO_DATA}` : `no running pods with figures${ns ? ` in namespace ${ns}` : ''}`,
      );
    const headers = [...(ns ? [] : ['NAMESPACE']), 'NAME', 'CPU(cores)', 'MEMORY(bytes)', 'NODE'];
    process.stdout.write(
      table(
        headers,
        items.map((p) => [
          ...(ns ? [] : [p.namespace]),
          p.pod,
          cores(p.cpuCores),
          mib(p.memoryBytes),
          p.node,
        ]),
      ),
    );
  });
}

function print(opts: TopFlags, body: unknown): boolean {
  if (opts.output === undefined) return false;
  if (opts.output !== 'json' && opts.output !== 'yaml')
    throw new UsageError(`-o ${opts.output}: expected json or yaml`);
  process.stdout.write(serialize(body, opts.output));
  return true;
}
