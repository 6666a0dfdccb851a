// The membership view of one agent: pure state, time passed in, so every rule is unit-testable.
//
// Evidence, strongest first:
//   leave message        -> left at once (the member said goodbye).
//   lost connection + refused redial -> dead at once (the process is gone: SIGKILL, crash); so is a member
//                           listed from its record, never heard, suspect, whose address refuses a dial.
//   heartbeat silence    -> suspect after suspectAfterMs; after deadAfterMs a `silent` event asks the mesh to
//                           confirm it with witnesses (other members, SWIM's indirect probe): dead only when
//                           they answer and none heard the member lately (confirmDead); otherwise it stays
//                           suspect and is asked about again (the member's etcd lease decides meanwhile).
//                           Silence is counted from when the next heartbeat was due (the sender's `grace`),
//                           and never from before our own last pause (pardon): a process that was itself
//                           stopped or starved does not blame its peers for the time it was away (Lifeguard).
// Life is shown by a heartbeat, or by the member's node record of a new incarnation as etcd's watch delivers
// it (it registered just now: `registered`), whichever comes first.
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
  /** Witnesses are being asked about its silence (set by a `silent` event, cleared by an answer or a beat). */
  confirming?: boolean;
  /** When its silence may be put to witnesses again (after an unconfirmed verdict). */
  askAgainAt?: number;
}

export interface MemberEvent {
  /** `silent` is no change of state: a request to confirm the member's silence with witnesses. */
  type: 'join' | 'alive' | 'suspect' | 'dead' | 'left' | 'update' | 'silent';
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
  /** When this process last found it had been paused: silence is never counted from before it. */
  private pardonedAt = Number.NEGATIVE_INFINITY;

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
    return this.observe(hb, now, 'heartbeat');
  }

  /**
   * The member's node record, of an incarnation newer than any we hold (or of a member we do not know),
   * as etcd's watch delivered it: its agent (re)started and registered under its lease just now. etcd is
   * the truth, so that is first-hand evidence of life, as a heartbeat is: the member is alive from now
   * (its first beat only comes once a connection is made, and a just-started agent answers all its peers'
   * handshakes on one thread: most of a second at N = 20). The silence rules take over from here — no
   * beat within suspectAfterMs and it is suspect, as any member. `hb.seq` is -1: its first beat is news.
   */
  registered(hb: Heartbeat, now: number): MemberEvent[] {
    const m = this.members.get(hb.name);
    if (m && hb.incarnation <= m.incarnation) return [];
    return this.observe(hb, now, 'registered');
  }

  private observe(hb: Heartbeat, now: number, evidence: 'heartbeat' | 'registered'): MemberEvent[] {
    const m = this.members.get(hb.name);
    if (m?.self) return [];
    if (!m) {
      const member: Member = {
        ...hb,
        state: 'alive',
        lastSeen: now,
        since: now,
        reason: evidence,
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
    delete m.confirming;
    delete m.askAgainAt;
    const restarted = hb.incarnation > m.incarnation;
    Object.assign(m, hb, { lastSeen: now });
    if (hb.grace === undefined) delete m.grace;
    if (wasState !== 'alive') {
      const reason = evidence === 'registered' ? 'registered again' : restarted ? 'restarted' : 'heartbeat';
      this.transition(m, 'alive', now, reason);
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

  /** This process was paused (or starved), or its clock jumped, until `now`: every member's silence starts
   * again from now. A clock set back (an NTP step) leaves last heartbeats in the future, which would keep
   * a member that dies before its next beat from being suspected until the clock caught up with them:
   * they are brought back to now. */
  pardon(now: number): void {
    this.pardonedAt = now;
    for (const m of this.members.values()) {
      delete m.askAgainAt;
      if (m.lastSeen > now) m.lastSeen = now;
    }
  }

  /** Whether we were paused within the last deadAfterMs: our view of others' silence is not to be trusted. */
  recentlyPaused(now: number): boolean {
    return now - this.pardonedAt < this.timing.deadAfterMs;
  }

  /** How long the member has been silent as far as we can tell (ms, beyond its grace). */
  silence(m: Member, now: number): number {
    const grace = m.state === 'alive' || m.state === 'suspect' ? (m.grace ?? 0) : 0;
    return now - Math.max(m.lastSeen, this.pardonedAt) - grace;
  }

  /** Whether we heard the member within its suspect threshold (what a witness answers). */
  heardLately(m: Member, now: number): boolean {
    return (
      (m.state === 'alive' || m.state === 'suspect') &&
      now - m.lastSeen - (m.grace ?? 0) < this.timing.suspectAfterMs
    );
  }

  /** Apply the silence rules. Call it often (every heartbeat period). */
  tick(now: number): MemberEvent[] {
    const events: MemberEvent[] = [];
    for (const m of this.members.values()) {
      if (m.self) {
        m.lastSeen = now;
        continue;
      }
      const silence = this.silence(m, now);
      if ((m.state === 'alive' || m.state === 'suspect') && silence >= this.timing.deadAfterMs) {
        if (m.state === 'alive') {
          this.transition(m, 'suspect', now, `no heartbeat for ${silence} ms`);
          events.push({ type: 'suspect', member: m });
        }
        if (!m.confirming && (m.askAgainAt ?? 0) <= now) {
          m.confirming = true;
          events.push({ type: 'silent', member: m });
        }
      } else if (m.state === 'alive' && silence >= this.timing.suspectAfterMs) {
        this.transition(m, 'suspect', now, `no heartbeat for ${silence} ms`);
        events.push({ type: 'suspect', member: m });
      } else if ((m.state === 'dead' || m.state === 'left') && now - m.since >= FORGET_AFTER_MS) {
        this.members.delete(m.name);
      }
    }
    return events;
  }

  /** Witnesses confirmed the silence of this incarnation of the member: dead (unless it spoke meanwhile). */
  confirmDead(name: string, incarnation: number, now: number, reason: string): MemberEvent[] {
    const m = this.members.get(name);
    if (!m || m.self || !m.confirming || m.incarnation !== incarnation) return [];
    delete m.confirming;
    if (m.state !== 'alive' && m.state !== 'suspect') return [];
    this.transition(m, 'dead', now, reason);
    return [{ type: 'dead', member: m }];
  }

  /** The silence was not confirmed (a witness heard it, or none answered): suspect, asked about again later. */
  unconfirmed(name: string, incarnation: number, now: number, reason: string): void {
    const m = this.members.get(name);
    if (!m || m.self || !m.confirming || m.incarnation !== incarnation) return;
    delete m.confirming;
    m.askAgainAt = now + this.timing.suspectAfterMs;
    if (m.state === 'suspect') m.reason = reason;
  }

  /** When tick() could next change something (ms): the earliest silence threshold or forget time. */
  nextDeadline(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const m of this.members.values()) {
      if (m.self || m.confirming) continue;
      const from = Math.max(m.lastSeen, this.pardonedAt) + (m.grace ?? 0);
      const due =
        m.state === 'alive'
          ? from + this.timing.suspectAfterMs
          : m.state === 'suspect'
            ? Math.max(from + this.timing.deadAfterMs, m.askAgainAt ?? 0)
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
