// new-or-update FILE when nodes have an ssh section: deploy over SSH (head/cli/deploy/deploy.ts), with the
// plan first, a confirmation (--yes, or "yes" on a terminal), progress lines and a final table.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Etcd3 } from 'etcd3';
import type { ClusterConfig } from '../../../agent/config/schema.ts';
import { validateConfigText } from '../../../agent/config/validate.ts';
import { UsageError } from '../../../agent/errors.ts';
import { cachedFileSha256 } from '../../../agent/op/checksum.ts';
import { isSingleExecutable } from '../../../agent/op/processes.ts';
import { ensureKeyringFile } from '../../../agent/secrets/keyring.ts';
import { readConfig, storeConfig } from '../../../agent/store/config-store.ts';
import { connectEtcd } from '../../../agent/store/etcd.ts';
import { cliEtcdSettings } from '../../../agent/tls/etcd-served.ts';
import { clientContextOf, nokubeHome, saveContext } from '../context.ts';
import { deployOverSsh } from '../deploy/deploy.ts';
import { table } from '../output.ts';
import { secretsKeyFile } from '../secrets/key-file.ts';
import { editor } from './config.ts';

/** README "Deploy over SSH": SSH handshake limit, and how long a started agent has to register. */
const SSH_TIMEOUT_MS = 10_000;
const REGISTER_TIMEOUT_MS = 60_000;
const DRAIN_TIMEOUT_MS = 120_000;

export async function deployCommand(
  file: string,
  text: string,
  config: ClusterConfig,
  opts: { dryRun?: boolean; yes?: boolean; binary?: string },
): Promise<void> {
  const path = opts.binary ?? (isSingleExecutable() ? process.execPath : undefined);
  if (!path) throw new UsageError('running from source: pass --binary dist/nokube (the binary to install)');
  const binary = { path, sha256: await cachedFileSha256(path, join(nokubeHome(), 'checksums.json')) };
  // The secrets keyring: made at the first deploy, uploaded to every host with its node file.
  const secretsKey = secretsKeyFile(config);
  if (!opts.dryRun && (await ensureKeyringFile(secretsKey)).created)
    process.stdout.write(`wrote the secrets key ${secretsKey} (keep it: it decrypts the Secrets)\n`);
  let etcd: Etcd3 | null = null;
  const getEtcd = async () => {
    etcd ??= await connectEtcd(cliEtcdSettings(config));
    return etcd;
  };
  try {
    const { rows } = await deployOverSsh({
      config,
      binary,
      dryRun: opts.dryRun === true,
      confirm: async () => {
        if (opts.yes) return true;
        if (!process.stdin.isTTY) throw new UsageError('not a terminal: pass --yes to apply the plan');
        const rl = createInterface({ input: process.stdin, output: process.stdout });
        const answer = await rl.question('Apply this plan? Only "yes" applies: ');
        rl.close();
        return answer.trim() === 'yes';
      },
      previousConfig: async () => {
        const stored = await readConfig(await getEtcd(), config.cluster);
        return stored
          ? validateConfigText(stored.text, `the config stored in etcd (version ${stored.version})`).config
          : null;
      },
      storeConfig: async () => {
        const res = await storeConfig(await getEtcd(), text, file, editor(), 'latest');
        process.stdout.write(
          `config of cluster "${config.cluster}" ${res.outcome} (version ${res.version})\n`,
        );
      },
      etcd: getEtcd,
      out: (t) => process.stdout.write(t),
      by: editor(),
      sshTimeoutMs: SSH_TIMEOUT_MS,
      registerTimeoutMs: REGISTER_TIMEOUT_MS,
      drainTimeoutMs: DRAIN_TIMEOUT_MS,
      // A dry run writes nothing: without a keyring yet, its plan shows none uploaded.
      ...(opts.dryRun && !existsSync(secretsKey) ? {} : { secretsKeyFile: secretsKey }),
    });
    if (rows.length > 0)
      process.stdout.write(
        table(
          ['NODE', 'CHANGE', 'STATE', 'TIME'],
          rows.map((r) => [r.node, r.change, r.state, `${(r.ms / 1000).toFixed(1)}s`]),
        ),
      );
    // Client commands then find this cluster (and, with tls, present tls.dir's CLI certificate to etcd).
    if (!opts.dryRun)
      process.stdout.write(`client context saved to ${await saveContext(clientContextOf(config))}\n`);
  } finally {
    (etcd as Etcd3 | null)?.close();
  }
}
