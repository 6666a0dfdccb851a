// nokube audit [--since 1h] [--user NAME] [-o json|yaml]: the audit log of the head the CLI reaches
// (each head keeps its own: --server picks one). Needs the right to read the ACL.
import type { Command } from 'commander';
import type { AuditRecord } from '../../audit/audit-log.ts';
import { type HeadFlags, headGet } from '../head-client.ts';
import { parseOutput, serialize, table } from '../output.ts';
import { parseDuration } from './pod-stream.ts';

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description(
      "a head's audit log: every write, exec and logs session, and every refusal (who, what, when)",
    )
    .option('--since <duration>', 'only records newer than this (30s, 5m, 2h)')
    .option('--user <name>', "only this token's records (its name, or anonymous)")
    .option('-o, --output <format>', 'json or yaml')
    .option('--server <url>', 'head API URL (env NOKUBE_SERVER); default: a head found in etcd')
    .option('--etcd <urls>', 'etcd endpoints, comma-separated (env NOKUBE_ETCD)')
    .option('--cluster <name>', 'cluster name (env NOKUBE_CLUSTER)')
    .action(async (opts: HeadFlags & { since?: string; user?: string; output?: string }) => {
      const format = parseOutput(opts.output);
      const q = new URLSearchParams();
      if (opts.since !== undefined)
        q.set('since', new Date(Date.now() - parseDuration(opts.since) * 1000).toISOString());
      if (opts.user !== undefined) q.set('user', opts.user);
      const query = q.size > 0 ? `?${q}` : '';
      const { body } = await headGet<{ head: string; items: AuditRecord[]; omitted?: number }>(
        opts,
        `/api/v1/audit${query}`,
      );
      if (body.omitted)
        process.stderr.write(
          `note: the ${body.omitted} older records are not shown (at most ${body.items.length} in one answer): narrow it with --since or --user\n`,
        );
      if (format === 'json' || format === 'yaml') {
        process.stdout.write(serialize(body, format));
        return;
      }
      const rows = body.items.map((r) => [
        r.time,
        r.user,
        r.verb,
        r.resource,
        r.namespace ?? '',
        r.name ?? '',
        r.result,
      ]);
      process.stdout.write(table(['TIME', 'USER', 'VERB', 'RESOURCE', 'NAMESPACE', 'NAME', 'RESULT'], rows));
    });
}
