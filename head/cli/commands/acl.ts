// nokube acl bootstrap | policy list|get|apply|delete | token ... | certificate ...: the cluster's access
// control. The bootstrap goes to etcd itself (whoever holds etcd's credentials owns the cluster anyway,
// and no head can be raced to it); everything else goes through a head and needs `acl` rights.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';
import type { Policy } from '../../acl/policy.ts';
import { type ContextFlags, resolveContext } from '../context.ts';
import { type HeadFlags, headDelete, headGet, headPost } from '../head-client.ts';
import { collect, headOptions, readStdin } from '../manifest-files.ts';
import { parseOutput, serialize, table } from '../output.ts';
import { registerAclCertificates } from './acl-certificate.ts';
import { registerAclTokens } from './acl-token.ts';

export function registerAcl(program: Command): void {
  const acl = program
    .command('acl')
    .description('access control: bootstrap, policies and tokens (README "Access control")');

  acl
    .command('bootstrap')
    .description(
      'one time only: store the four built-in policies and print a management token (ops-admin), once',
    )
    .option('--etcd <urls>', 'etcd endpoints, comma-separated (env NOKUBE_ETCD)')
    .option('--cluster <name>', 'cluster name (env NOKUBE_CLUSTER)')
    .action(async (opts: ContextFlags) => {
      const ctx = await resolveContext(opts);
      const [{ connectEtcd }, { bootstrapAcl }] = await Promise.all([
        import('../../../agent/store/etcd.ts'),
        import('../../acl/store.ts'),
      ]);
      const etcd = await connectEtcd(ctx.etcd);
      try {
        const { secret, record } = await bootstrapAcl(etcd, ctx.cluster);
        process.stdout.write(
          `ACL of cluster "${ctx.cluster}" bootstrapped: policies anonymous, readonly, deployer, ops-admin stored.\n` +
            `Accessor ID: ${record.accessor}\nName:        ${record.name}\nPolicies:    ${record.policies.join(', ')}\n` +
            `Secret ID:   ${secret}\n` +
            'The secret is shown this once and cannot be read again: keep it (`nokube login` reads it from a file or stdin).\n',
        );
      } finally {
        etcd.close();
      }
    });

  const policy = acl
    .command('policy')
    .description('ACL policies (stored in etcd; read and changed through a head)');
  headOptions(
    policy.command('list').description('list the policies').option('-o, --output <format>', 'json or yaml'),
  ).action(async (opts: HeadFlags & { output?: string }) => {
    const format = parseOutput(opts.output);
    const { body } = await headGet<{ items: Policy[] }>(opts, '/api/v1/acl/policies');
    if (format === 'json' || format === 'yaml')
      return void process.stdout.write(serialize(body.items, format));
    const cluster = (p: Policy) =>
      Object.entries(p.cluster)
        .map(([k, v]) => `${k}:${v}`)
        .join(',') || '-';
    process.stdout.write(
      table(
        ['NAME', 'RULES', 'CLUSTER', 'DESCRIPTION'],
        body.items.map((p) => [p.name, String(p.rules.length), cluster(p), p.description]),
      ),
    );
  });
  headOptions(
    policy
      .command('get')
      .argument('<name>', 'policy name')
      .description('print a policy (YAML, as `policy apply -f` takes it)')
      .option('-o, --output <format>', 'yaml (default) or json'),
  ).action(async (name: string, opts: HeadFlags & { output?: string }) => {
    const { body } = await headGet<Policy>(opts, `/api/v1/acl/policies/${encodeURIComponent(name)}`);
    process.stdout.write(serialize(body, opts.output === 'json' ? 'json' : 'yaml'));
  });
  headOptions(
    policy
      .command('apply')
      .description('create or replace policies from YAML or JSON documents (one policy each)')
      .option('-f, --filename <path>', 'file, or - for stdin; repeatable', collect, []),
  ).action(async (opts: HeadFlags & { filename: string[] }) => {
    if (opts.filename.length === 0) throw new UsageError('-f <file|-> is required');
    const { parseManifestText } = await import('../../../agent/objects/validate.ts');
    const docs: Array<{ value: unknown }> = [];
    for (const f of opts.filename) {
      const text =
        f === '-'
          ? await readStdin()
          : await readFile(f, 'utf8').catch((err: Error) => {
              throw new UsageError(`${f}: cannot read: ${err.message}`);
            });
      docs.push(...parseManifestText(text, f));
    }
    if (docs.length === 0) throw new UsageError(`${opts.filename.join(', ')}: no policy found`);
    for (const d of docs) {
      const r = await headPost<{ name: string; outcome: string }>(opts, '/api/v1/acl/policies', d.value);
      process.stdout.write(`policy "${r.name}" ${r.outcome}\n`);
    }
  });
  headOptions(
    policy.command('delete').argument('<name>', 'policy name').description('delete a policy'),
  ).action(async (name: string, opts: HeadFlags) => {
    await headDelete(opts, `/api/v1/acl/policies/${encodeURIComponent(name)}`);
    process.stdout.write(`policy "${name}" deleted\n`);
  });

  registerAclTokens(acl);
  registerAclCertificates(acl);
}
