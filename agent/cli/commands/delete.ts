// nokube delete -f <file|dir|-> | nokube delete <kind> <name>... [-n ns] [--ignore-not-found]:
// each object is deleted by the head in its own transaction (with its status); pods of a controller go
// by cascade, a Namespace takes its objects along.
import type { Command } from 'commander';
import type { DeleteResult } from '../../objects/apply.ts';
import type { ObjectRef } from '../../objects/store.ts';
import { HeadError, type HeadFlags, headDelete } from '../head-client.ts';
import { collect, headOptions, readManifestFiles } from '../manifest-files.ts';
import { objectPath, query, refFor, resolveKind, typeNames } from '../objects-api.ts';
import { UsageError } from '../output.ts';

interface DeleteFlags extends HeadFlags {
  filename: string[];
  namespace?: string;
  ignoreNotFound: boolean;
  dryRun: boolean;
}

export function registerDelete(program: Command): void {
  headOptions(
    program
      .command('delete [kind] [names...]')
      .description('delete objects named on the command line or in manifests')
      .option('-f, --filename <path>', 'file, directory or - for stdin; repeatable', collect, [])
      .option('-n, --namespace <ns>', 'namespace of the objects (default "default")')
      .option('--ignore-not-found', 'a missing object is not an error', false)
      .option('--dry-run', 'show what would be deleted; delete nothing', false),
  ).action(async (kindWord: string | undefined, names: string[], opts: DeleteFlags) => {
    let refs: ObjectRef[];
    if (opts.filename.length > 0) {
      if (kindWord) throw new UsageError('give either -f or <kind> <name>, not both');
      refs = (await readManifestFiles(opts.filename)).manifests.map((m) =>
        refFor(m.object.kind, m.object.metadata.name, m.object.metadata.namespace),
      );
    } else {
      if (kindWord?.includes('/')) {
        refs = typeNames([kindWord, ...names]).map(([t, n]) => refFor(resolveKind(t), n, opts.namespace));
      } else {
        if (!kindWord || names.length === 0)
          throw new UsageError('usage: nokube delete <kind> <name>..., <kind>/<name>... or -f <file>');
        const kind = resolveKind(kindWord);
        refs = names.map((n) => refFor(kind, n, opts.namespace));
      }
    }
    const errors: string[] = [];
    for (const ref of refs) {
      const q = query({ ignoreNotFound: opts.ignoreNotFound && 'true', dryRun: opts.dryRun && 'true' });
      try {
        const r = await headDelete<DeleteResult>(opts, `${objectPath(ref)}${q}`);
        if (r.deleted) process.stdout.write(`${r.text}\n`);
      } catch (err) {
        if (!(err instanceof HeadError)) throw err;
        errors.push(err.message);
      }
    }
    if (errors.length > 0) throw new HeadError(404, errors.join('\n'));
  });
}
