// nokube members: the mesh as a head sees it (alive / suspect / dead / left, last seen, incarnation).
import type { Command } from 'commander';
import type { Member } from '../../../agent/mesh/member-table.ts';
import { type HeadFlags, headGet } from '../head-client.ts';
import { age, parseOutput, serialize, table } from '../output.ts';

export function registerMembers(program: Command): void {
  program
    .command('members')
    .description('list mesh members as seen by a head: state, address, roles, last heartbeat, incarnation')
    .option('-o, --output <format>', 'wide, json or yaml')
    .option('--server <url>', 'head API URL (env NOKUBE_SERVER); default: a head found in etcd')
    .option('--etcd <urls>', 'etcd endpoints, comma-separated (env NOKUBE_ETCD)')
    .option('--cluster <name>', 'cluster name (env NOKUBE_CLUSTER)')
    .action(async (opts: HeadFlags & { output?: string }) => {
      const format = parseOutput(opts.output);
      const { body } = await headGet<{ observer: string; items: Member[] }>(opts, '/api/v1/members');
      if (format === 'json' || format === 'yaml') {
        process.stdout.write(serialize(body, format));
        return;
      }
      const now = Date.now();
      const headers = ['NAME', 'STATE', 'ADDRESS', 'ROLES', 'LAST SEEN', 'SINCE'];
      if (format === 'wide') headers.push('INCARNATION', 'PEER ID', 'REASON');
      const rows = body.items.map((m) => {
        const row = [
          m.self ? `${m.name} (observer)` : m.name,
          m.state,
          m.address,
          m.roles.join(','),
          age(m.lastSeen, now),
          age(m.since, now),
        ];
        if (format === 'wide') row.push(String(m.incarnation), m.peerId, m.reason);
        return row;
      });
      process.stdout.write(table(headers, rows));
    });
}
