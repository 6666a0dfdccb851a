// nokube acl token create|list|info|revoke: tokens are named by their accessor id; the secret is printed
// once, by create, and never again (the head keeps only its hash).
import type { Command } from 'commander';
import type { TokenInfo } from '../../acl/token.ts';
import { type HeadFlags, headDelete, headGet, headPost } from '../head-client.ts';
import { collect, headOptions } from '../manifest-files.ts';
import { age, parseOutput, serialize, table } from '../output.ts';
import { parseDuration } from './pod-stream.ts';

/** GET /api/v1/acl/self: the token sent, or the client certificate that stood for the CLI. */
interface SelfAnswer {
  enforced: boolean;
  token?: TokenInfo;
  certificate?: { name: string; serial: string; policies: string[] };
}

const expires = (t: TokenInfo) => (t.expired ? 'expired' : (t.expirationTime ?? 'never'));

function describe(t: TokenInfo): string {
  return (
    `Accessor ID: ${t.accessor}\nName:        ${t.name}\nDescription: ${t.description}\n` +
    `Policies:    ${t.policies.join(', ')}\nCreated:     ${t.createTime}\nExpires:     ${expires(t)}\n`
  );
}

export function registerAclTokens(acl: Command): void {
  const token = acl.command('token').description('ACL tokens (a secret for `nokube login`, with policies)');
  headOptions(
    token
      .command('create')
      .description('make a token; its secret is printed this once')
      .requiredOption('--name <name>', 'a name for it (an RFC 1123 label, e.g. ci)')
      .option('--policy <name>', 'a policy it gets; repeatable (or comma-separated)', collect, [])
      .option('--description <text>', 'what it is for', '')
      .option('--ttl <duration>', 'expire after this long (e.g. 30m, 24h, 720h); default: never')
      .option('-o, --output <format>', 'json or yaml'),
  ).action(
    async (
      opts: HeadFlags & {
        name: string;
        policy: string[];
        description: string;
        ttl?: string;
        output?: string;
      },
    ) => {
      const format = parseOutput(opts.output);
      const body = {
        name: opts.name,
        description: opts.description,
        policies: opts.policy.flatMap((p) => p.split(',')).filter(Boolean),
        ...(opts.ttl === undefined ? {} : { ttlSeconds: parseDuration(opts.ttl, '--ttl') }),
      };
      const r = await headPost<{ secret: string; token: TokenInfo }>(opts, '/api/v1/acl/tokens', body);
      if (format === 'json' || format === 'yaml') return void process.stdout.write(serialize(r, format));
      process.stdout.write(
        `${describe(r.token)}Secret ID:   ${r.secret}\nThe secret is shown this once and cannot be read again.\n`,
      );
    },
  );
  headOptions(
    token
      .command('list')
      .description('list tokens (no secrets)')
      .option('-o, --output <format>', 'json or yaml'),
  ).action(async (opts: HeadFlags & { output?: string }) => {
    const format = parseOutput(opts.output);
    const { body } = await headGet<{ items: TokenInfo[] }>(opts, '/api/v1/acl/tokens');
    if (format === 'json' || format === 'yaml')
      return void process.stdout.write(serialize(body.items, format));
    process.stdout.write(
      table(
        ['ACCESSOR', 'NAME', 'POLICIES', 'AGE', 'EXPIRES'],
        body.items.map((t) => [t.accessor, t.name, t.policies.join(','), age(t.createTime), expires(t)]),
      ),
    );
  });
  headOptions(
    token
      .command('info')
      .argument('[accessor]', 'accessor id (default: the token this CLI sends)')
      .description("a token's name, policies, creation and expiry (never its secret)")
      .option('-o, --output <format>', 'json or yaml'),
  ).action(async (accessor: string | undefined, opts: HeadFlags & { output?: string }) => {
    const format = parseOutput(opts.output);
    let t: TokenInfo | undefined;
    if (accessor === undefined) {
      const self = (await headGet<SelfAnswer>(opts, '/api/v1/acl/self')).body;
      const c = self.certificate;
      // No token sent: the head knows this CLI by its client certificate.
      if (c)
        return void process.stdout.write(
          `no token is sent: the head identifies this CLI by its client certificate "${c.name}" (serial ${c.serial}, policies ${c.policies.join(', ') || 'none'})\n`,
        );
      t = self.token;
    } else t = (await headGet<TokenInfo>(opts, `/api/v1/acl/tokens/${encodeURIComponent(accessor)}`)).body;
    if (!t)
      return void process.stdout.write('ACL is not enabled on this cluster: requests are not checked\n');
    process.stdout.write(format === 'json' || format === 'yaml' ? serialize(t, format) : describe(t));
  });
  headOptions(
    token
      .command('revoke')
      .argument('<accessor>', 'accessor id')
      .description('revoke a token: refused at once by every head'),
  ).action(async (accessor: string, opts: HeadFlags) => {
    const r = await headDelete<{ name: string }>(opts, `/api/v1/acl/tokens/${encodeURIComponent(accessor)}`);
    process.stdout.write(`token "${r.name}" (${accessor}) revoked\n`);
  });
}
