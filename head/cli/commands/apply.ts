// nokube apply -f <file|dir|-> [-f ...] [--dry-run]: validate here (errors name file and document),
// then one request to a head, which validates again and writes everything in one transaction.
import type { Command } from 'commander';
import type { ApplyResult } from '../../../agent/objects/apply.ts';
import { type HeadFlags, headPost } from '../head-client.ts';
import { collect, headOptions, readManifestFiles } from '../manifest-files.ts';

export function registerApply(program: Command): void {
  headOptions(
    program
      .command('apply')
      .description('create or update objects from manifests (YAML or JSON), all or nothing')
      .option(
        '-f, --filename <path>',
        'file, directory (*.yaml, *.yml, *.json) or - for stdin; repeatable',
        collect,
        [],
      )
      .option('--dry-run', 'validate and show what would change; write nothing', false),
  ).action(async (opts: HeadFlags & { filename: string[]; dryRun: boolean }) => {
    const { docs } = await readManifestFiles(opts.filename);
    const body = {
      documents: docs.map((d) => d.value),
      origins: docs.map((d) => ({ source: d.source, document: d.document, item: d.item })),
      dryRun: opts.dryRun,
      by: `cli:${process.env.USER ?? 'unknown'}`,
    };
    const { items } = await headPost<{ items: ApplyResult[] }>(opts, '/api/v1/apply', body);
    process.stdout.write(items.map((i) => `${i.text}${opts.dryRun ? ' (dry run)' : ''}\n`).join(''));
  });
}
