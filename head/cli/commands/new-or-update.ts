// nokube new-or-update [file]: write a template, or validate and store a cluster config (and --local: bring it up here).
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_TEMPLATE, CONFIG_TEMPLATE_FILE } from '../../../agent/config/template.ts';
import { UsageError } from '../../../agent/errors.ts';
import { clientContextOf, saveContext } from '../context.ts';
import { editor } from './config.ts';
import { runUp } from './up.ts';

export function registerNewOrUpdate(program: Command): void {
  program
    .command('new-or-update [file]')
    .description(
      'with no file: write a commented cluster.yaml template here; with a file: validate it and store it in etcd',
    )
    .option('--dry-run', 'validate only (with ssh nodes: connect and print the plan); change nothing')
    .option('--yes', 'with ssh nodes: apply the plan without asking')
    .option(
      '--binary <path>',
      'with ssh nodes: the nokube binary to install (default: this binary, when it is the single executable)',
    )
    .option(
      '--local',
      'also bring the cluster up on this machine (etcd if local, an agent per local node), like `nokube up -f`',
    )
    .option('--dir <dir>', 'with --local: where logs, etcd data and pids live', '.nokube/local')
    .action(
      async (
        file: string | undefined,
        opts: { dryRun?: boolean; local?: boolean; dir: string; yes?: boolean; binary?: string },
      ) => {
        if (!file) {
          const target = resolve(CONFIG_TEMPLATE_FILE);
          if (existsSync(target))
            throw new UsageError(
              `${target} already exists; not overwriting it (give it as the argument to use it)`,
            );
          await writeFile(target, CONFIG_TEMPLATE, { flag: 'wx' });
          process.stdout.write(
            `wrote a cluster config template to ${target}\nedit it, then run: nokube new-or-update ${CONFIG_TEMPLATE_FILE}\n`,
          );
          return;
        }
        const { loadConfigFile } = await import('../../../agent/config/validate.ts');
        const { config, text } = await loadConfigFile(file);
        if (!opts.local && config.nodes.some((n) => n.ssh)) {
          const { deployCommand } = await import('./new-or-update-ssh.ts');
          await deployCommand(file, text, config, opts);
          return;
        }
        if (opts.dryRun) {
          process.stdout.write(
            `${file}: valid (cluster "${config.cluster}", ${config.nodes.length} nodes); nothing written (--dry-run)\n`,
          );
          return;
        }
        if (opts.local) {
          await runUp({ dir: opts.dir, file });
          return;
        }
        const [{ connectEtcd }, { storeConfig }] = await Promise.all([
          import('../../../agent/store/etcd.ts'),
          import('../../../agent/store/config-store.ts'),
        ]);
        const etcd = await connectEtcd(config.etcd);
        try {
          const res = await storeConfig(etcd, text, file, editor(), 'latest');
          process.stdout.write(
            `config of cluster "${config.cluster}" ${res.outcome} (version ${res.version})\n`,
          );
        } finally {
          etcd.close();
        }
        const ctxFile = await saveContext(clientContextOf(config));
        process.stdout.write(`client context saved to ${ctxFile}\n`);
      },
    );
}
