// nokube secrets rotate-key | drop-key: the cluster's secrets keyring (agent/secrets) on this machine,
// and the Secrets in etcd re-encrypted under its active key. README "Secrets" gives the order of a
// rotation on hosts deployed over SSH (the new keyring is distributed before the Secrets move to it).
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';
import { type ContextFlags, resolveContext } from '../context.ts';

interface KeyOpts extends ContextFlags {
  keyFile?: string;
}

/** The key file (--key-file, else the stored config's secrets.keyFile or its default) and etcd. */
async function withKeyFile<T>(
  opts: KeyOpts,
  fn: (file: string, etcd: import('etcd3').Etcd3, cluster: string) => Promise<T>,
): Promise<T> {
  const ctx = await resolveContext(opts);
  const [{ connectEtcd }, { readConfig }, { validateConfigText }, { secretsKeyFile }] = await Promise.all([
    import('../../../agent/store/etcd.ts'),
    import('../../../agent/store/config-store.ts'),
    import('../../../agent/config/validate.ts'),
    import('../secrets/key-file.ts'),
  ]);
  const etcd = await connectEtcd(ctx.etcd);
  try {
    let file = opts.keyFile;
    if (!file) {
      const stored = await readConfig(etcd, ctx.cluster);
      const config = stored ? validateConfigText(stored.text, 'the stored config').config : undefined;
      file = secretsKeyFile({
        cluster: ctx.cluster,
        ...(config?.secrets ? { secrets: config.secrets } : {}),
      });
    }
    const { readKeyringFile } = await import('../../../agent/secrets/keyring.ts');
    await readKeyringFile(file).catch((err: { code?: string }) => {
      if (err.code !== 'ENOENT') throw err;
      throw new UsageError(
        `no secrets keyring at ${file} (nokube up and new-or-update make it; or pass --key-file)`,
      );
    });
    return await fn(file, etcd, ctx.cluster);
  } finally {
    etcd.close();
  }
}

export function registerSecrets(program: Command): void {
  const secrets = program
    .command('secrets')
    .description('the secrets keyring: Secrets are encrypted at rest (AES-256-GCM) under its active key');
  const common = (c: Command) =>
    c
      .option(
        '--key-file <file>',
        'the keyring (default: secrets.keyFile, else $NOKUBE_HOME/keys/<cluster>.json)',
      )
      .option('--etcd <urls>', 'etcd endpoints, comma-separated (env NOKUBE_ETCD)')
      .option('--cluster <name>', 'cluster name (env NOKUBE_CLUSTER)');

  common(
    secrets
      .command('rotate-key')
      .description(
        'add a new key to the keyring and make it active, then re-encrypt every Secret under it (each in its own transaction); agents given this file take the new key at once, hosts deployed over SSH with new-or-update',
      )
      .option('--add-only', 'only add the new active key (distribute it, then run with --reencrypt-only)')
      .option('--reencrypt-only', 'only re-encrypt every Secret under the active key'),
  ).action(async (opts: KeyOpts & { addOnly?: boolean; reencryptOnly?: boolean }) => {
    if (opts.addOnly && opts.reencryptOnly)
      throw new UsageError('--add-only and --reencrypt-only exclude each other');
    const [{ readKeyringFile, withNewActiveKey, writeKeyringFile }, { reencryptSecrets }] = await Promise.all(
      [import('../../../agent/secrets/keyring.ts'), import('../secrets/reencrypt.ts')],
    );
    await withKeyFile(opts, async (file, etcd, cluster) => {
      let keyring = await readKeyringFile(file);
      if (!opts.reencryptOnly) {
        keyring = withNewActiveKey(keyring);
        await writeKeyringFile(file, keyring);
        process.stdout.write(`added key ${keyring.active} to ${file}; it is now the active key\n`);
      }
      if (opts.addOnly) {
        process.stdout.write(
          'distribute the keyring (nokube new-or-update), then run: nokube secrets rotate-key --reencrypt-only\n',
        );
        return;
      }
      const r = await reencryptSecrets(etcd, cluster, keyring);
      process.stdout.write(
        `re-encrypted ${r.rewritten} Secrets under key ${keyring.active} (${r.current} already were)\n`,
      );
      if (r.problems.length > 0)
        throw new Error(`${r.problems.length} Secrets left as they were:\n${r.problems.join('\n')}`);
    });
  });

  common(
    secrets
      .command('drop-key <id>')
      .description(
        'remove an old key from the keyring; refused while a Secret in etcd is encrypted under it',
      ),
  ).action(async (id: string, opts: KeyOpts) => {
    const [{ readKeyringFile, withoutKey, writeKeyringFile }, { secretsUnderKey }] = await Promise.all([
      import('../../../agent/secrets/keyring.ts'),
      import('../secrets/reencrypt.ts'),
    ]);
    await withKeyFile(opts, async (file, etcd, cluster) => {
      const keyring = await readKeyringFile(file);
      const using = await secretsUnderKey(etcd, cluster, id);
      if (using.length > 0)
        throw new UsageError(
          `${using.length} Secrets are still encrypted under key ${id} (${using.slice(0, 5).join(', ')}${using.length > 5 ? ', ...' : ''}): run nokube secrets rotate-key --reencrypt-only first`,
        );
      await writeKeyringFile(file, withoutKey(keyring, id));
      process.stdout.write(`dropped key ${id} from ${file}; distribute the keyring (nokube new-or-update)\n`);
    });
  });
}
