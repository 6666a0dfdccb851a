// nokube create namespace|ns NAME, nokube create job NAME --from=cronjob/CRON and nokube create secret
// docker-registry NAME --docker-server S --docker-username U --docker-password P [--dry-run]: as kubectl,
// one object made from the command line and created, never updated: a namespace that exists already (the
// built-in ones always do) is an error. A Job from a CronJob is its jobTemplate, annotated
// `cronjob.kubernetes.io/instantiate: manual` and owned by the CronJob as its controller (kubectl's): it goes
// when the CronJob is deleted and counts in its active runs (Forbid, Replace) and history limits.
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';
import { DOCKER_CONFIG_JSON, DOCKER_CONFIG_KEY } from '../../../agent/images/registry-auth.ts';
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
    await createOne(opts, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, 'create namespace');
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
    // kubectl's: annotated as made by hand, the CronJob as its controller (deleted with it, counted in its
    // runs and history); the server-set fields jobFor fills are dropped by the apply.
    const { jobFor } = await import('../../cronjob/reconcile.ts');
    const job = jobFor(cj, name, undefined, {
      'cronjob.kubernetes.io/instantiate': 'manual',
    });
    await createOne(opts, job, `create job --from=${opts.from}`);
  });
  headOptions(
    create
      .command('secret')
      .description('create a Secret')
      .command('docker-registry <name>')
      .description("create a Secret with a registry's credentials, for a pod's imagePullSecrets")
      .option('--docker-server <server>', "the registry's address", 'https://index.docker.io/v1/')
      .requiredOption('--docker-username <user>', 'user name for the registry')
      .requiredOption('--docker-password <password>', 'password (or token) for the registry')
      .option('--docker-email <email>', 'email for the registry')
      .option('-n, --namespace <ns>', 'namespace (default "default")')
      .option('--dry-run', 'validate and show what would be created; write nothing', false),
  ).action(
    async (
      name: string,
      opts: HeadFlags & {
        dockerServer: string;
        dockerUsername: string;
        dockerPassword: string;
        dockerEmail?: string;
        namespace?: string;
        dryRun: boolean;
      },
    ) => {
      const entry = {
        username: opts.dockerUsername,
        password: opts.dockerPassword,
        ...(opts.dockerEmail ? { email: opts.dockerEmail } : {}),
        auth: Buffer.from(`${opts.dockerUsername}:${opts.dockerPassword}`).toString('base64'),
      };
      const config = JSON.stringify({ auths: { [opts.dockerServer]: entry } });
      const secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: DOCKER_CONFIG_JSON,
        metadata: { name, namespace: opts.namespace ?? 'default' },
        data: { [DOCKER_CONFIG_KEY[DOCKER_CONFIG_JSON]!]: Buffer.from(config).toString('base64') },
      };
      await createOne(opts, secret, 'create secret docker-registry');
    },
  );
}

/** One object created (never updated) through the head's apply; its line printed. */
async function createOne(opts: HeadFlags & { dryRun: boolean }, document: object, source: string) {
  const body = {
    documents: [document],
    origins: [{ source, document: 1 }],
    create: true,
    dryRun: opts.dryRun,
    by: `cli:${process.env.USER ?? 'unknown'}`,
  };
  const { items } = await headPost<{ items: ApplyResult[] }>(opts, '/api/v1/apply', body);
  process.stdout.write(items.map((i) => `${i.text}${opts.dryRun ? ' (dry run)' : ''}\n`).join(''));
}
