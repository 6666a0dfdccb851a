// (c) Never more running copies of a Deployment's pods than replicas + maxSurge, beyond an allowed
// window: copies are the distinct pods (by uid) with a running container whose ownership path is under
// `deployment-<name>/`, counted per Docker sample; replicas are the Deployment's in etcd. Containers on a
// node under a fault (or just out of one) are not counted: a frozen or cut-off agent cannot stop its
// copies of pods replaced elsewhere meanwhile (they run on, as edge autonomy wants, and stop when it is
// back: the scenarios check that).
import { type History, impairedAt, okDocker, okEtcd, RECOVERY_GRACE_MS, touchedWithin } from '../history.ts';
import type { Violation } from './violation.ts';

/** RollingUpdate's maxSurge (README "Controllers and scheduling"). */
export const MAX_SURGE = 1;

export function tooManyCopies(h: History, opts: { allowMs?: number; maxSurge?: number } = {}): Violation[] {
  const allowMs = opts.allowMs ?? 0;
  const surge = opts.maxSurge ?? MAX_SURGE;
  const replicas = new Map<string, number>();
  for (const s of okEtcd(h))
    for (const d of s.deployments) replicas.set(`${d.namespace}/${d.name}`, d.replicas);
  const out: Violation[] = [];
  /** Per deployment: since when it has had too many, and the most seen. */
  const over = new Map<string, { since: number; peak: number; reported: boolean }>();
  for (const s of okDocker(h)) {
    const copies = new Map<string, Set<string>>();
    const impaired = impairedAt(h, s.t);
    const away = (node: string) => impaired.has(node) || touchedWithin(h, node, s.t, RECOVERY_GRACE_MS);
    for (const c of s.containers) {
      const m = /^deployment-([^/]+)\//.exec(c.ownerPath);
      if (!c.running || !m || away(c.node)) continue;
      const key = `${c.namespace}/${m[1]}`;
      const set = copies.get(key) ?? new Set<string>();
      set.add(c.podUid);
      copies.set(key, set);
    }
    for (const [key, want] of replicas) {
      const n = copies.get(key)?.size ?? 0;
      const limit = want + surge;
      if (n <= limit) {
        over.delete(key);
        continue;
      }
      const o = over.get(key) ?? { since: s.t, peak: n, reported: false };
      o.peak = Math.max(o.peak, n);
      over.set(key, o);
      if (!o.reported && s.t - o.since > allowMs) {
        o.reported = true;
        out.push({
          check: 'copies',
          t: o.since,
          what: `deployment ${key}: ${n} running copies > ${want} replicas + ${surge} surge for more than ${allowMs / 1000} s`,
        });
      }
    }
  }
  return out;
}
