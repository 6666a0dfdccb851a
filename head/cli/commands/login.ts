// nokube login [--token-file F]: check a token with a head and keep it in the context
// ($NOKUBE_HOME/context.json, mode 0600), so every later command sends it. The token is read from a
// file or stdin, never from the command line (which `ps` shows to every user of the host).
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';
import type { TokenInfo } from '../../acl/token.ts';
import { resolveContext, saveToken } from '../context.ts';
import { type HeadFlags, headGet } from '../head-client.ts';
import { headOptions, readStdin } from '../manifest-files.ts';

export function registerLogin(program: Command): void {
  headOptions(
    program
      .command('login')
      .description(
        'check an ACL token with a head and keep it in the client context (NOKUBE_TOKEN overrides it)',
      )
      .option('--token-file <path>', 'a file holding the token (default: read it from stdin)'),
  ).action(async (opts: HeadFlags & { tokenFile?: string }) => {
    const text = opts.tokenFile
      ? await readFile(opts.tokenFile, 'utf8').catch((err: Error) => {
          throw new UsageError(`--token-file ${opts.tokenFile}: ${err.message}`);
        })
      : await readStdin();
    const token = text.trim();
    if (!token) throw new UsageError(`no token in ${opts.tokenFile ?? 'stdin'}`);
    const ctx = await resolveContext(opts);
    const { body } = await headGet<{ enforced: boolean; token?: TokenInfo }>(
      { ...opts, token },
      '/api/v1/acl/self',
    );
    const file = await saveToken(ctx, token);
    if (!body.token) {
      process.stdout.write(
        `token saved in ${file}; ACL is not enabled on cluster "${ctx.cluster}", so it was not checked\n`,
      );
      return;
    }
    const t = body.token;
    process.stdout.write(
      `logged in to cluster "${ctx.cluster}" as token "${t.name}" (accessor ${t.accessor}, policies ${t.policies.join(', ')}); saved in ${file}\n`,
    );
  });
}
