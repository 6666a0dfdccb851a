// (b) Running containers are neither restarted nor removed: once a container id runs, it keeps running
// to the end, and a pod's container keeps its id.
import { type ContainerView, type History, okDocker } from '../history.ts';
import type { Violation } from './violation.ts';

export type ContainerAllowed = (c: ContainerView) => boolean;

const label = (c: ContainerView) =>
  `container ${c.namespace}/${c.pod}/${c.container} on ${c.node} (${c.id.slice(0, 12)})`;

export function containersStable(h: History, allowed: ContainerAllowed = () => false): Violation[] {
  const out: Violation[] = [];
  /** Running container ids -> what they are. */
  const running = new Map<string, ContainerView>();
  /** `<pod uid>/<container>` -> the id seen running first. */
  const idOf = new Map<string, string>();
  for (const s of okDocker(h)) {
    const now = new Map(s.containers.map((c) => [c.id, c]));
    for (const [id, c] of running) {
      const later = now.get(id);
      if (later?.running) continue;
      running.delete(id);
      if (!allowed(c))
        out.push({
          check: 'containers-stable',
          t: s.t,
          what: `${label(c)} ${later ? 'stopped' : 'removed'}`,
        });
    }
    for (const c of s.containers) {
      if (!c.running || running.has(c.id)) continue;
      const slot = `${c.podUid}/${c.container}`;
      const first = idOf.get(slot);
      if (first === undefined) idOf.set(slot, c.id);
      else if (!allowed(c))
        out.push({
          check: 'containers-stable',
          t: s.t,
          what: `${label(c)} ${first === c.id ? 'restarted' : `replaces ${first.slice(0, 12)}`}`,
        });
      running.set(c.id, c);
    }
  }
  return out;
}
