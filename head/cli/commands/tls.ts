// nokube tls init|rotate|status|client <cluster.yaml>: the cluster's certificates in the config's tls.dir (a
// CA, one certificate per node, one for the CLI, more client certificates). new-or-update uploads each
// host's own files.
import type { Command } from 'commander';
import type { ClusterConfig } from '../../../agent/config/schema.ts';
import { UsageError } from '../../../agent/errors.ts';
import { LEAF_VALIDITY_DAYS, WARN_DAYS } from '../../../agent/tls/validity.ts';
import { table } from '../output.ts';

function parseDays(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 36_500)
    throw new UsageError(`--days ${v}: must be a whole number of days, 1 to 36500`);
  return n;
}

/** The config and its tls.dir; a config without `tls` is an error naming the field. */
async function configWithTls(file: string): Promise<{ config: ClusterConfig; dir: string }> {
  const { loadConfigFile, ConfigError } = await import('../../../agent/config/validate.ts');
  const { config } = await loadConfigFile(file);
  if (!config.tls)
    throw new ConfigError(file, [
      {
        path: 'tls.dir',
        message: 'is not set: add "tls: { dir: /absolute/dir }" (where the certificates are kept)',
      },
    ]);
  return { config, dir: config.tls.dir };
}

const day = (d: Date) => d.toISOString().slice(0, 10);

const collectPolicy = (v: string, all: string[]) => [...all, v];

export function registerTls(program: Command): void {
  const tls = program
    .command('tls')
    .description(
      "the cluster's certificates in the config's tls.dir: a CA, one per node (server and client), one for the CLI",
    );
  tls
    .command('init <cluster.yaml>')
    .description('make the CA and every certificate in tls.dir; never overwrites (an existing CA is refused)')
    .option('--days <n>', 'validity of the node and CLI certificates, in days', parseDays, LEAF_VALIDITY_DAYS)
    .action(async (file: string, opts: { days: number }) => {
      const { config, dir } = await configWithTls(file);
      const { initPki } = await import('../tls/issue-all.ts');
      const r = await initPki(config, dir, opts.days, new Date());
      process.stdout.write(
        `wrote ${dir}: ${r.written.join(', ')}\nCA valid until ${day(r.caNotAfter)}, certificates until ${day(r.leafNotAfter)}\n` +
          `keep ${dir}/ca-key.pem secret; nokube new-or-update ${file} uploads each host's own files\n`,
      );
    });
  tls
    .command('rotate <cluster.yaml>')
    .description(
      'renew the node and CLI certificates (new keys) with the same CA, a new node included; --ca: with a new CA',
    )
    .option('--days <n>', 'validity of the node and CLI certificates, in days', parseDays, LEAF_VALIDITY_DAYS)
    .option('--ca', 'make a new CA first (the previous one kept as ca.previous.pem, ca-key.previous.pem)')
    .action(async (file: string, opts: { days: number; ca?: boolean }) => {
      const { config, dir } = await configWithTls(file);
      const { rotatePki } = await import('../tls/issue-all.ts');
      const r = await rotatePki(config, dir, opts.days, opts.ca === true, new Date());
      const kept = r.kept.length ? `kept the previous CA as ${r.kept.join(', ')}\n` : '';
      const short =
        r.leafNotAfter.getTime() === r.caNotAfter.getTime()
          ? ` (cut to the CA's end: nokube tls rotate --ca renews the CA)`
          : '';
      // Client certificates of `tls client` are the operator's to hand out: not renewed here.
      const { clientNames } = await import('../tls/status.ts');
      const clients = await clientNames(dir);
      const clientNote = clients.length
        ? `not renewed: ${clients.map((n) => `clients/${n}.pem`).join(', ')}${opts.ca ? ' (no longer valid: signed by the previous CA)' : ''}; nokube tls client ${file} <name> --policy <p> issues one again\n`
        : '';
      process.stdout.write(
        `wrote ${dir}: ${r.written.join(', ')}\n${kept}certificates valid until ${day(r.leafNotAfter)}${short}\n` +
          clientNote +
          `nokube new-or-update ${file} uploads them and restarts each agent whose files changed\n`,
      );
    });
  tls
    .command('client <cluster.yaml> <name>')
    .description(
      'issue a client certificate (CN=<name>, one O= per --policy) to tls.dir/clients/: with ACL on, a head gives it those policies',
    )
    .option('--policy <name>', 'an ACL policy it holds (repeat for more)', collectPolicy, [])
    .option('--days <n>', 'validity in days', parseDays, LEAF_VALIDITY_DAYS)
    .action(async (file: string, name: string, opts: { policy: string[]; days: number }) => {
      const { dir } = await configWithTls(file);
      const { issueClient } = await import('../tls/issue-client.ts');
      const r = await issueClient(dir, { name, policies: opts.policy }, opts.days, new Date());
      process.stdout.write(
        `wrote ${dir}: ${r.cert}, ${r.key}; valid until ${day(r.notAfter)}\n` +
          `present it with NOKUBE_CLIENT_CERT=${dir}/${r.cert} NOKUBE_CLIENT_KEY=${dir}/${r.key}; nokube acl certificate deny <its file> refuses it before then\n`,
      );
    });
  tls
    .command('status <cluster.yaml>')
    .description(
      `list the certificates of tls.dir: subject, names, expiry; "!" under ${WARN_DAYS} days left; exit 1 when one is expired, missing or wrong`,
    )
    .action(async (file: string) => {
      const { config, dir } = await configWithTls(file);
      const { pkiStatus } = await import('../tls/status.ts');
      const rows = await pkiStatus(config, dir, new Date());
      process.stdout.write(
        table(
          ['CERTIFICATE', 'SUBJECT', 'SANS', 'NOT AFTER', 'DAYS LEFT', ''],
          rows.map((r) => [r.file, r.subject, r.sans, r.notAfter, r.daysLeft, r.mark]),
        ),
      );
      if (rows.some((r) => r.failed)) process.exitCode = 1;
    });
}
