// nokube create namespace|ns NAME and nokube create job NAME --from=cronjob/CRON [--dry-run]: as kubectl,
// one object made from the command line and created, never updated: a namespace that exists already (the
// built-in ones always do) is an error. A Job from a CronJob is its jobTemplate, annotated
// `cronjob.kubernetes.io/instantiate: manual` (kubectl's); unlike kubectl's it has no ownerReference (an
// apply takes none): it is the user's, not counted in the CronJob's active runs or history.
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';
import type { ApplyResult } from '../../../agent/objects/apply.ts';
import type { CronJob } from '../../../agent/objects/types.ts';
import { type HeadFlags, headGet, headPost } from '../head-client.ts';
import { headOptions } from '../manifest-files.ts';

export function registerCreate(program: Command): void {
  const create = program.command('create').description('create one object from the command line');
  headOptions(
    create
      .command('namespace <name>')
      .alias('ns')
      .description('create a namespace')
      .option('--dry-run', 'validate and show what would be created; write nothing', false),
  ).action(async (name: string, opts: HeadFlags & { dryRun: boolean }) => {
    const body = {
      documents: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }],
      origins: [{ source: 'create namespace', document: 1 }],
      create: true,
      dryRun: opts.dryRun,
      by: `cli:${process.env.USER ?? 'unknown'}`,
    };
    const { items } = await headPost<{ items: ApplyResult[] }>(opts, '/api/v1/apply', body);
    process.stdout.write(items.map((i) => `${i.text}${opts.dryRun ? ' (dry run)' : ''}\n`).join(''));
  });
  headOptions(
    create
      .command('job <name>')
      .description('create a Job from a CronJob (run it now)')
      .requiredOption('--from <cronjob/NAME>', 'the CronJob whose jobTemplate the Job is')
      .option('-n, --namespace <ns>', 'namespace (default "default")')
      .option('--dry-run', 'validate and show what would be created; write nothing', false),
  ).action(async (name: string, opts: HeadFlags & { from: string; namespace?: string; dryRun: boolean }) => {
    const m = /^(?:cronjob|cronjobs|cj|cronjob\.batch)\/(.+)$/.exec(opts.from);
    if (!m) throw new UsageError(`--from ${opts.from}: expected cronjob/NAME`);
    const namespace = opts.namespace ?? 'default';
    const { body: cj } = await headGet<CronJob>(
      opts,
      `/api/v1/objects/cronjobs/${encodeURIComponent(namespace)}/${encodeURIComponent(m[1]!)}`,
    );
    const t = cj.spec.jobTemplate;
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name,
        namespace,
        ...(t.metadata?.labels ? { labels: t.metadata.labels } : {}),
        annotations: { ...t.metadata?.annotations, 'cronjob.kubernetes.io/instantiate': 'manual' },
      },
      spec: t.spec,
    };
    const body = {
      documents: [job],
      origins: [{ source: `create job --from=${opts.from}`, document: 1 }],
      create: true,
      dryRun: opts.dryRun,
      by: `cli:${process.env.USER ?? 'unknown'}`,
    };
    const { items } = await headPost<{ items: ApplyResult[] }>(opts, '/api/v1/apply', body);
    process.stdout.write(items.map((i) => `${i.text}${opts.dryRun ? ' (dry run)' : ''}\n`).join(''));
  });
}
