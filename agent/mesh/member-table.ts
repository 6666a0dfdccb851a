// The membership view of one agent: pure state, time passed in, so every rule is unit-testable.
//
// Evidence, strongest first:
//   leave message        -> left at once (the member said goodbye).
//   lost connection + refused redial -> dead at once (the process is gone: SIGKILL, crash).
//   heartbeat silence    -> suspect after suspectAfterMs, dead after deadAfterMs (hang, partition, power loss),
//                           both counted from when the next heartbeat was due (the sender's `grace`).
// Incarnation is the member's process start time: a heartbeat with a higher incarnation is a restart and
// revives a dead or left member; a lower one is a stale message from an old process and is ignored.
import type { Role } from '../config/schema.ts';
import { compareText } from '../text/compare.ts';

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

export interface Heartbeat {
  name: string;
  peerId: string;
  address: string;
  roles: Role[];
  labels: Record<string, string>;
  multiaddrs: string[];
  incarnation: number;
  seq: number;
  api?: string;
  /** ms the sender's beats to one peer may be apart beyond one beat (it beats FANOUT peers in turn). */
  grace?: number;
}

export interface Member extends Heartbeat {
  state: MemberState;
  /** ms timestamp of the last heartbeat (or of the leave / death evidence). */
  lastSeen: number;
  /** ms timestamp of the last state change. */
  since: number;
  /** Why the member is in its state, for humans. */
  reason: string;
  self: boolean;
}

export interface MemberEvent {
  type: 'join' | 'alive' | 'suspect' | 'dead' | 'left' | 'update';
  member: Member;
}

export interface MemberTiming {
  suspectAfterMs: number;
  deadAfterMs: number;
}

/** Dead and left members are forgotten after this long (README: "members"). */
export const FORGET_AFTER_MS = 60 * 60 * 1000;

export class MemberTable {
  private readonly members = new Map<string, Member>();
  private timing: MemberTiming;

  private readonly selfName: string;

  constructor(self: Heartbeat, timing: MemberTiming, now: number) {
    this.timing = timing;
    this.selfName = self.name;
    this.members.set(self.name, {
      ...self,
      state: 'alive',
      lastSeen: now,
      since: now,
      reason: 'self',
      self: true,
    });
  }

  setTiming(timing: MemberTiming): void {
    this.timing = timing;
  }

  /** Update our own entry (labels changed, new seq). */
  updateSelf(self: Heartbeat, now: number): void {
    const me = this.members.get(self.name)!;
    Object.assign(me, self, { lastSeen: now });
  }

  /** A new beat of ours that changes nothing but its seq. */
  selfBeat(seq: number, now: number): void {
    const me = this.members.get(this.selfName)!;
    me.seq = seq;
    me.lastSeen = now;
  }

  heartbeat(hb: Heartbeat, now: number): MemberEvent[] {
    const m = this.members.get(hb.name);
    if (m?.self) return [];
    if (!m) {
      const member: Member = {
        ...hb,
        state: 'alive',
        lastSeen: now,
        since: now,
        reason: 'heartbeat',
        self: false,
      };
      this.members.set(hb.name, member);
      return [{ type: 'join', member }];
    }
    if (hb.incarnation < m.incarnation) return [];
    if (hb.incarnation === m.incarnation) {
      if (hb.seq <= m.seq) return [];
      if (m.state === 'left') return [];
    }
    const changed = labelsOrAddrsChanged(m, hb);
    const wasState = m.state;
    const restarted = hb.incarnation > m.incarnation;
    Object.assign(m, hb, { lastSeen: now });
    if (hb.grace === undefined) delete m.grace;
    if (wasState !== 'alive') {
      this.transition(m, 'alive', now, restarted ? 'restarted' : 'heartbeat');
      return [{ type: wasState === 'suspect' ? 'alive' : 'join', member: m }];
    }
    return changed ? [{ type: 'update', member: m }] : [];
  }

  leave(name: string, incarnation: number, now: number): MemberEvent[] {
    const m = this.members.get(name);
    if (!m || m.self || incarnation < m.incarnation || m.state === 'left') return [];
    m.lastSeen = now;
    this.transition(m, 'left', now, 'left the mesh');
    return [{ type: 'left', member: m }];
  }

  /** The connection to the member broke and a redial was refused: the process is gone. */
  unreachable(peerId: string, now: number, reason: string): MemberEvent[] {
    const m = this.byPeer(peerId);
    if (!m || m.self || m.state === 'dead' || m.state === 'left') return [];
    this.transition(m, 'dead', now, reason);
    return [{ type: 'dead', member: m }];
  }

  /** Apply the silence rules. Call it often (every heartbeat period). */
  tick(now: number): MemberEvent[] {
    const events: MemberEvent[] = [];
    for (const m of this.members.values()) {
      if (m.self) {
        m.lastSeen = now;
        continue;
      }
      const silence = now - m.lastSeen - (m.state === 'alive' || m.state === 'suspect' ? (m.grace ?? 0) : 0);
      if ((m.state === 'alive' || m.state === 'suspect') && silence >= this.timing.deadAfterMs) {
        this.transition(m, 'dead', now, `no heartbeat for ${silence} ms`);
        events.push({ type: 'dead', member: m });
      } else if (m.state === 'alive' && silence >= this.timing.suspectAfterMs) {
        this.transition(m, 'suspect', now, `no heartbeat for ${silence} ms`);
        events.push({ type: 'suspect', member: m });
      } else if ((m.state === 'dead' || m.state === 'left') && now - m.since >= FORGET_AFTER_MS) {
        this.members.delete(m.name);
      }
    }
    return events;
  }

  /** When tick() could next change something (ms): the earliest silence threshold or forget time. */
  nextDeadline(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const m of this.members.values()) {
      if (m.self) continue;
      const due =
        m.state === 'alive'
          ? m.lastSeen + (m.grace ?? 0) + this.timing.suspectAfterMs
          : m.state === 'suspect'
            ? m.lastSeen + (m.grace ?? 0) + this.timing.deadAfterMs
            : m.since + FORGET_AFTER_MS;
      if (due < next) next = due;
    }
    return next;
  }

  get(name: string): Member | undefined {
    return this.members.get(name);
  }

  byPeer(peerId: string): Member | undefined {
    for (const m of this.members.values()) if (m.peerId === peerId) return m;
    return undefined;
  }

  list(): Member[] {
    return [...this.members.values()].sort((a, b) => compareText(a.name, b.name));
  }

  counts(): Record<MemberState, number> {
    const c: Record<MemberState, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of this.members.values()) c[m.state]++;
    return c;
  }

  private transition(m: Member, state: MemberState, now: number, reason: string): void {
    m.state = state;
    m.since = now;
    m.reason = reason;
  }
}

function labelsOrAddrsChanged(m: Member, hb: Heartbeat): boolean {
  return (
    JSON.stringify(m.labels) !== JSON.stringify(hb.labels) ||
    m.address !== hb.address ||
    m.multiaddrs.join() !== hb.multiaddrs.join() ||
    m.roles.join() !== hb.roles.join()
  );
}
