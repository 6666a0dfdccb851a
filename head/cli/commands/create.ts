// nokube create namespace|ns NAME [--dry-run]: as kubectl, one object made from the command line and
// created, never updated: a namespace that exists already (the built-in ones always do) is an error.
import type { Command } from 'commander';
import type { ApplyResult } from '../../../agent/objects/apply.ts';
import { type HeadFlags, headPost } from '../head-client.ts';
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
}
