// nokube config get|set|unset|edit|history: the cluster config in etcd, edited with compare-and-swap.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Etcd3 } from 'etcd3';
import { parseDocument } from 'yaml';
import { getAtPath, setAtPath, unsetAtPath } from '../../../agent/config/path.ts';
import { UsageError } from '../../../agent/errors.ts';
import type { StoredConfig } from '../../../agent/store/config-store.ts';
import { keys } from '../../../agent/store/keys.ts';
import { type ContextFlags, resolveContext } from '../context.ts';
import { age, parseOutput, serialize, table } from '../output.ts';

export const editor = () => `${userInfo().username}@${process.env.HOSTNAME ?? 'cli'}`;

type ConfigStore = typeof import('../../../agent/store/config-store.ts');

/** Run `fn` with the stored config (the etcd client and the store loaded here, not at start-up). */
async function withStored<T>(
  flags: ContextFlags,
  fn: (etcd: Etcd3, stored: StoredConfig, cluster: string, store: ConfigStore) => Promise<T>,
): Promise<T> {
  const ctx = await resolveContext(flags);
  const [{ connectEtcd }, store] = await Promise.all([
    import('../../../agent/store/etcd.ts'),
    import('../../../agent/store/config-store.ts'),
  ]);
  const etcd = await connectEtcd(ctx.etcd);
  try {
    const stored = await store.readConfig(etcd, ctx.cluster);
    if (!stored)
      throw new UsageError(`cluster "${ctx.cluster}" has no config in etcd (${keys.config(ctx.cluster)})`);
    return await fn(etcd, stored, ctx.cluster, store);
  } finally {
    etcd.close();
  }
}

function report(cluster: string, outcome: string, version: number): void {
  process.stdout.write(`config of cluster "${cluster}" ${outcome} (version ${version})\n`);
}

export function registerConfigCommands(program: Command): void {
  const config = program
    .command('config')
    .description(
      'read and change the cluster config stored in etcd (validated; compare-and-swap on every write)',
    );
  const ctxOptions = (c: Command) =>
    c
      .option('--etcd <urls>', 'etcd endpoints, comma-separated (env NOKUBE_ETCD)')
      .option('--cluster <name>', 'cluster name (env NOKUBE_CLUSTER)');

  ctxOptions(
    config
      .command('get [path]')
      .description(
        'print the config, or the part at a path such as mesh.port, nodes[0].labels or nodes.edge-1.address',
      )
      .option('-o, --output <format>', 'yaml (default for mappings) or json'),
  ).action(async (path: string | undefined, opts: ContextFlags & { output?: string }) => {
    await withStored(opts, async (_etcd, stored) => {
      if (!path && opts.output !== 'json') {
        process.stdout.write(stored.text.endsWith('\n') ? stored.text : `${stored.text}\n`);
        return;
      }
      const doc = parseDocument(stored.text);
      let value: unknown;
      try {
        value = getAtPath(doc, path ?? '');
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const format = parseOutput(opts.output);
      if (format === 'json') process.stdout.write(serialize(value, 'json'));
      else if (value !== null && typeof value === 'object') process.stdout.write(serialize(value, 'yaml'));
      else process.stdout.write(`${String(value)}\n`);
    });
  });

  ctxOptions(
    config
      .command('set <path> <value>')
      .description(
        'set one field (the value is YAML: 3, true, "text", {zone: a}); validated before it is stored',
      ),
  ).action(async (path: string, value: string, opts: ContextFlags) => {
    await withStored(opts, async (etcd, stored, cluster, { storeConfig }) => {
      const doc = parseDocument(stored.text);
      try {
        setAtPath(doc, path, value);
      } catch (err) {
        throw new UsageError(`${path}: ${(err as Error).message}`);
      }
      const res = await storeConfig(etcd, doc.toString(), `config set ${path}`, editor(), stored);
      report(cluster, res.outcome, res.version);
    });
  });

  ctxOptions(
    config.command('unset <path>').description('remove one optional field; validated before it is stored'),
  ).action(async (path: string, opts: ContextFlags) => {
    await withStored(opts, async (etcd, stored, cluster, { storeConfig }) => {
      const doc = parseDocument(stored.text);
      try {
        unsetAtPath(doc, path);
      } catch (err) {
        throw new UsageError(`${path}: ${(err as Error).message}`);
      }
      const res = await storeConfig(etcd, doc.toString(), `config unset ${path}`, editor(), stored);
      report(cluster, res.outcome, res.version);
    });
  });

  ctxOptions(
    config
      .command('edit')
      .description('open the config in $EDITOR; stored only if valid and nobody changed it meanwhile'),
  ).action(async (opts: ContextFlags) => {
    const editorCmd = process.env.VISUAL || process.env.EDITOR;
    if (!editorCmd) throw new UsageError('neither $VISUAL nor $EDITOR is set (e.g. export EDITOR=vi)');
    const { ConfigError, validateConfigText } = await import('../../../agent/config/validate.ts');
    await withStored(opts, async (etcd, stored, cluster, { storeConfig }) => {
      const dir = await mkdtemp(join(tmpdir(), 'nokube-edit-'));
      const file = join(dir, `${cluster}-config.yaml`);
      await writeFile(file, stored.text, { mode: 0o600 });
      try {
        await runEditor(editorCmd, file);
        const edited = await readFile(file, 'utf8');
        if (edited === stored.text) {
          process.stdout.write('edit cancelled: no changes\n');
          return;
        }
        try {
          validateConfigText(edited, file);
        } catch (err) {
          if (err instanceof ConfigError) {
            const kept = join(tmpdir(), `nokube-rejected-${cluster}-${Date.now()}.yaml`);
            await writeFile(kept, edited, { mode: 0o600 });
            throw new ConfigError(kept, err.problems);
          }
          throw err;
        }
        const res = await storeConfig(etcd, edited, file, editor(), stored);
        report(cluster, res.outcome, res.version);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  ctxOptions(
    config
      .command('history')
      .description('list stored versions of the config (the last 50 are kept)')
      .option('--show <version>', 'print the config text of one version')
      .option('-o, --output <format>', 'json or yaml'),
  ).action(async (opts: ContextFlags & { show?: string; output?: string }) => {
    await withStored(opts, async (etcd, stored, cluster, { readHistory }) => {
      const entries = await readHistory(etcd, cluster);
      if (opts.show !== undefined) {
        const entry = entries.find((e) => e.version === Number(opts.show));
        if (!entry)
          throw new UsageError(
            `version ${opts.show} is not in the history (kept: ${entries.map((e) => e.version).join(', ')})`,
          );
        process.stdout.write(entry.text);
        return;
      }
      const format = parseOutput(opts.output);
      if (format === 'json' || format === 'yaml') {
        process.stdout.write(serialize(entries, format));
        return;
      }
      process.stdout.write(
        table(
          ['VERSION', 'AGE', 'BY', 'CURRENT'],
          entries.map((e) => [String(e.version), age(e.time), e.by, e.version === stored.version ? '*' : '']),
        ),
      );
    });
  });
}

function runEditor(cmd: string, file: string): Promise<void> {
  const [bin, ...args] = cmd.split(/\s+/).filter(Boolean) as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [...args, file], { stdio: 'inherit' });
    child.on('error', (err) => reject(new UsageError(`cannot start editor "${cmd}": ${err.message}`)));
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new UsageError(`editor "${cmd}" exited with code ${code}; nothing was written`)),
    );
  });
}
