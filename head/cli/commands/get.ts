// nokube get <kind>: kubectl-style listings. nodes come from etcd and the config; objects (pods,
// deployments, ...) from a head's object API (commands/get-objects.ts).
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';
import { keys } from '../../../agent/store/keys.ts';
import type { NodeView } from '../../../agent/store/node-views.ts';
import { resolveContext } from '../context.ts';
import { typeAndName } from '../objects-api.ts';
import { age, bytes, parseOutput, serialize, table } from '../output.ts';
import { type GetFlags, getObjects } from './get-objects.ts';

const KINDS: Record<string, string> = { node: 'nodes', nodes: 'nodes', no: 'nodes' };

export function registerGet(program: Command): void {
  program
    .command('get <kind> [names...]')
    .description('list nodes or objects of a kind as kubectl would')
    .option('-o, --output <format>', 'wide, json, yaml or name')
    .option('-n, --namespace <ns>', 'namespace (default "default")')
    .option('-A, --all-namespaces', 'objects of every namespace', false)
    .option('-l, --selector <query>', 'label selector, e.g. app=web,tier!=db')
    .option('-w, --watch', 'after the listing, print each change', false)
    .option('--server <url>', 'head API URL (env NOKUBE_SERVER); default: a head found in etcd')
    .option('--etcd <urls>', 'etcd endpoints, comma-separated (env NOKUBE_ETCD)')
    .option('--cluster <name>', 'cluster name (env NOKUBE_CLUSTER)')
    .action(async (kindWord: string, nameWords: string[], opts: GetFlags) => {
      const [kind, first] = typeAndName(kindWord, nameWords[0]);
      for (const w of nameWords.slice(1)) typeAndName(kind, w);
      const names = first === undefined ? [] : [first, ...nameWords.slice(1)];
      if (KINDS[kind.toLowerCase()] !== 'nodes') return getObjects(kind, names, opts);
      const format = parseOutput(opts.output);
      const ctx = await resolveContext(opts);
      const [
        { validateConfigText },
        { readConfig },
        { connectEtcd },
        { listCordoned, listNodes },
        { nodeViews },
      ] = await Promise.all([
        import('../../../agent/config/validate.ts'),
        import('../../../agent/store/config-store.ts'),
        import('../../../agent/store/etcd.ts'),
        import('../../../agent/store/node-registry.ts'),
        import('../../../agent/store/node-views.ts'),
      ]);
      const etcd = await connectEtcd(ctx.etcd);
      let views: NodeView[];
      try {
        const stored = await readConfig(etcd, ctx.cluster);
        if (!stored)
          throw new UsageError(
            `cluster "${ctx.cluster}" has no config in etcd (${keys.config(ctx.cluster)})`,
          );
        views = nodeViews(
          validateConfigText(stored.text, keys.config(ctx.cluster)).config,
          await listNodes(etcd, ctx.cluster),
          [],
          await listCordoned(etcd, ctx.cluster),
        );
      } finally {
        etcd.close();
      }
      if (names.length > 0) {
        const missing = names.filter((n) => !views.some((v) => v.name === n));
        views = names.flatMap((n) => views.filter((v) => v.name === n));
        if (missing.length > 0) {
          // kubectl: what was found is printed, each missing one said, exit 1.
          if (views.length > 0) printNodes(views, format);
          throw new Error(
            missing.map((n) => `Error from server (NotFound): nodes "${n}" not found`).join('\n'),
          );
        }
      }
      printNodes(views, format, names.length === 1);
    });
}

function printNodes(views: NodeView[], format: ReturnType<typeof parseOutput>, single = false): void {
  if (format === 'json' || format === 'yaml') {
    const items = views.map(toObject);
    process.stdout.write(
      serialize(single ? items[0] : { apiVersion: 'v1', kind: 'NodeList', items }, format),
    );
    return;
  }
  const headers = ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'];
  if (format === 'wide') headers.push('ADDRESS', 'OS', 'KERNEL', 'CPU', 'MEMORY', 'LABELS');
  const rows = views.map((v) => {
    const row = [
      v.name,
      [
        v.status,
        ...(v.stoppedAt ? ['AgentStopped'] : []),
        ...(v.unschedulable ? ['SchedulingDisabled'] : []),
        ...(v.inConfig ? [] : ['NotInConfig']),
      ].join(','),
      v.roles.join(','),
      age(v.startedAt),
      v.version ?? '<none>',
    ];
    if (format === 'wide') {
      const c = v.capacity;
      row.push(
        v.address,
        c ? `${c.os.distro} ${c.os.release}`.trim() : '<none>',
        c?.os.kernel ?? '<none>',
        c ? String(c.cpus) : '<none>',
        c ? bytes(c.memoryBytes) : '<none>',
        Object.entries(v.labels)
          .map(([k, val]) => `${k}=${val}`)
          .join(',') || '<none>',
      );
    }
    return row;
  });
  process.stdout.write(table(headers, rows));
}

function toObject(v: NodeView) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: v.name, labels: v.labels, creationTimestamp: v.startedAt },
    spec: {
      roles: v.roles,
      address: v.address,
      peerId: v.peerId,
      taints: v.taints,
      ...(v.unschedulable ? { unschedulable: true } : {}),
    },
    status: {
      phase: v.status,
      inConfig: v.inConfig,
      agentVersion: v.version,
      ...(v.stoppedAt ? { agentStoppedAt: v.stoppedAt } : {}),
      capacity: v.capacity,
      allocatable: v.allocatable,
    },
  };
}
