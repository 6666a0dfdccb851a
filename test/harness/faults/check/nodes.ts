// Node records in etcd.
import { type History, okEtcd } from '../history.ts';
import type { Violation } from './violation.ts';

/** `node`'s record is in every etcd sample (a clean stop hands it to its grace lease; a restart puts it
 * back before that runs out). */
export function recordThroughout(h: History, node: string): Violation[] {
  const gap = okEtcd(h).find((s) => s.nodes[node] === undefined);
  return gap ? [{ check: 'node-record', t: gap.t, what: `no node record of ${node}` }] : [];
}
