// What the fault suite's recorder observes (test/harness/faults/recorder.ts) and the checkers read: three
// streams of samples (etcd, Docker, the heads' answers), each stamped with the monotonic clock
// (performance.now(), ms), and the faults injected, as notes on the same clock.

/** A pod as etcd holds it: object (objects/pods/...) and status (status/pods/...). */
export interface PodView {
  namespace: string;
  name: string;
  uid: string;
  node?: string;
  /** The controller owner, `<Kind>/<name>` (a bare pod: absent). */
  owner?: string;
  phase?: string;
  reason?: string;
  /** Its spec's container names. */
  containers: string[];
}

export interface DeploymentView {
  namespace: string;
  name: string;
  replicas: number;
}

export interface ElectionKey {
  node: string;
  createRevision: number;
  lease: string;
}

export type EtcdSample =
  | { t: number; ok: false; error: string }
  | {
      t: number;
      ok: true;
      /** Object keys below objects/: `deployments/default/web`, `pods/default/solo`. */
      objects: string[];
      pods: PodView[];
      deployments: DeploymentView[];
      /** Keys below alive/: `default/deployment-web/pod-web-x/container-main`. */
      alive: string[];
      /** Node records: name -> incarnation. */
      nodes: Record<string, number>;
      /** Keys of the kubecontroller election; the lowest create revision holds it. */
      election: ElectionKey[];
    };

/** A container of the cluster, from its labels (agent/runtime/labels.ts). */
export interface ContainerView {
  id: string;
  node: string;
  namespace: string;
  pod: string;
  podUid: string;
  container: string;
  /** `deployment-web/pod-web-x/container-main`: its alive record's path. */
  ownerPath: string;
  running: boolean;
}

export type DockerSample =
  | { t: number; ok: false; error: string }
  | { t: number; ok: true; containers: ContainerView[] };

/** One head's answers: GET /api/v1/kubecontroller (`answer`) and whether its /metrics shows it running
 * the controllers (`acting`: the leader reports the cluster-level `nokube_actor` rows). */
export interface HeadView {
  answer?: string | null;
  acting?: boolean;
  error?: string;
}

export interface HeadsSample {
  t: number;
  heads: Record<string, HeadView>;
}

/** A fault and its end. Targets: a node name or `etcd`. */
export type NoteKind = 'freeze' | 'thaw' | 'kill' | 'stop' | 'start' | 'cut' | 'heal' | 'reboot' | 'mark';

export interface Note {
  t: number;
  kind: NoteKind;
  target: string;
  text: string;
}

export interface History {
  cluster: string;
  nodes: string[];
  heads: string[];
  start: number;
  end: number;
  etcd: EtcdSample[];
  docker: DockerSample[];
  leaders: HeadsSample[];
  notes: Note[];
  /** Samples dropped because a stream reached its bound (oldest first). */
  dropped: number;
}

export type OkEtcd = Extract<EtcdSample, { ok: true }>;
export type OkDocker = Extract<DockerSample, { ok: true }>;

export const okEtcd = (h: History): OkEtcd[] => h.etcd.filter((s): s is OkEtcd => s.ok);
export const okDocker = (h: History): OkDocker[] => h.docker.filter((s): s is OkDocker => s.ok);

/** Seconds since the history's start, for messages: `+12.3 s`. */
export const at = (h: History, t: number): string => `+${((t - h.start) / 1000).toFixed(1)} s`;

/** The last note of a kind for a target (its time), if any. */
export function noteAt(h: History, kind: NoteKind, target?: string): number | undefined {
  for (let i = h.notes.length - 1; i >= 0; i--) {
    const n = h.notes[i]!;
    if (n.kind === kind && (target === undefined || n.target === target)) return n.t;
  }
  return undefined;
}

/** Targets that cannot answer at time t: frozen, killed or stopped (until started), cut off (until healed). */
export function impairedAt(h: History, t: number): Set<string> {
  const out = new Set<string>();
  for (const n of h.notes) {
    if (n.t > t) break;
    if (n.kind === 'freeze' || n.kind === 'kill' || n.kind === 'stop' || n.kind === 'cut') out.add(n.target);
    // A reboot's agent start comes while the host is still cut off: it stays impaired until healed.
    if (n.kind === 'thaw' || n.kind === 'heal' || (n.kind === 'start' && !cutAt(h, n.target, n.t)))
      out.delete(n.target);
  }
  return out;
}

/** After a fault of a process or host ends, how long it may take to be itself again: gRPC's reconnect
 * back-off reaches 2 s and etcd3's breaker waits 1 s; a restarted agent first boots; a thawed agent first
 * stops its copies of the pods replaced while it was away. */
export const RECOVERY_GRACE_MS = 10_000;

/** A note on `target` (a fault or its end) within `graceMs` before `t`. */
export function touchedWithin(h: History, target: string, t: number, graceMs: number): boolean {
  return h.notes.some((n) => n.target === target && n.t <= t && t - n.t < graceMs);
}

function cutAt(h: History, target: string, t: number): boolean {
  let cut = false;
  for (const n of h.notes) {
    if (n.t > t) break;
    if (n.target !== target) continue;
    if (n.kind === 'cut') cut = true;
    if (n.kind === 'heal') cut = false;
  }
  return cut;
}

/** The election holder in a sample: the key with the lowest create revision (etcd's election). */
export function electionHolder(s: OkEtcd): string | undefined {
  let best: ElectionKey | undefined;
  for (const k of s.election) if (!best || k.createRevision < best.createRevision) best = k;
  return best?.node;
}

/** A deployment's pods are those whose controller is it. */
export const ownedBy = (p: PodView, d: { namespace: string; name: string }) =>
  p.namespace === d.namespace && p.owner === `Deployment/${d.name}`;

/** The history from `t` on (samples and notes), its start moved there. */
export function sliceFrom(h: History, t: number): History {
  const from = <T extends { t: number }>(list: T[]) => list.filter((s) => s.t >= t);
  return {
    ...h,
    start: t,
    etcd: from(h.etcd),
    docker: from(h.docker),
    leaders: from(h.leaders),
    notes: from(h.notes),
  };
}
