// (d) No lost object: every object the scenario applied is still in etcd in the last sample.
import { type History, okEtcd } from '../history.ts';
import type { Violation } from './violation.ts';

/** `expected`: object keys below objects/, e.g. `deployments/default/web`, `pods/default/solo`. */
export function lostObjects(h: History, expected: string[]): Violation[] {
  const last = okEtcd(h).at(-1);
  if (!last) return [{ check: 'lost-objects', t: h.end, what: 'etcd never answered' }];
  const have = new Set(last.objects);
  return expected
    .filter((k) => !have.has(k))
    .map((k) => ({ check: 'lost-objects', t: last.t, what: `${k} is not in etcd at the end` }));
}
