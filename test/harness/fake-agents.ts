// Agents played by the test, against a real etcd: node records (no lease, no process) the controllers
// place pods on, and one watch of the cluster's pod objects and statuses that (a) answers each bound pod
// with a Running status after `readyDelayMs`, Ready unless its image is listed as never ready, (b)
// removes a Terminating pod after `stopDelayMs` (its "agent" stopped it), and (c) after every change,
// in etcd revision order, hands the pods as they are to an observer (invariant checks see every state
// the cluster went through, not samples). Nodes given to `prePull` also answer image pre-pull requests
// (agent/images) in their node status: after `pullDelayMs`, or only when the test says (`answerPull`).
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { ImagePullRequest, NodeStatus } from '../../agent/images/pull-requests.ts';
import { deleteObjects, writeStatus } from '../../agent/objects/store.ts';
import type { Pod, PodStatus } from '../../agent/objects/types.ts';
import { keys } from '../../agent/store/keys.ts';
import type { NodeRecord } from '../../agent/store/node-registry.ts';

export interface FakePod {
  object: Pod;
  createRevision: string;
  status?: PodStatus;
}

export const isPodReady = (p: FakePod) =>
  p.status?.phase === 'Running' &&
  p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
export const isLive = (p: FakePod) => !p.object.metadata.deletionTimestamp;

export async function putFakeNodes(
  etcd: Etcd3,
  cluster: string,
  names: string[],
  labels: Record<string, string> = {},
): Promise<void> {
  for (const name of names) {
    const rec: NodeRecord = {
      name,
      address: '127.0.0.1',
      roles: ['worker'],
      labels,
      peerId: '',
      multiaddrs: [],
      capacity: { containerRuntime: { name: 'docker', version: '28', apiVersion: '1.41' } },
      agentVersion: 'test',
      startedAt: new Date().toISOString(),
      incarnation: 1,
    } as unknown as NodeRecord;
    await etcd.put(keys.node(cluster, name)).value(JSON.stringify(rec));
  }
}

export class FakeAgents {
  readonly pods = new Map<string, FakePod>();
  /** Images whose pods run but never turn Ready. */
  readonly neverReady = new Set<string>();
  /** Images whose containers crash-loop (waiting in CrashLoopBackOff, never Ready). */
  readonly crashLooping = new Set<string>();
  readyDelayMs = 150;
  stopDelayMs = 100;
  observer: ((pods: FakePod[]) => void) | undefined;
  /** Pre-pull: answer requests by themselves after this long (undefined: only `answerPull`). */
  pullDelayMs: number | undefined = 50;
  /** Images whose pulls fail (by themselves). */
  readonly unpullable = new Set<string>();
  /** Per pre-pulling node: image -> newest request mod revision, and the outcomes reported. */
  private readonly pulls = new Map<string, { wanted: Map<string, string>; status: NodeStatus }>();
  private watcher: Watcher | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly answered = new Set<string>();
  private readonly objectsPrefix: string;
  private readonly statusPrefix: string;

  private readonly etcd: Etcd3;
  private readonly cluster: string;
  /** Only pods bound to these nodes are ours (a real agent may run beside). */
  private readonly nodes: ReadonlySet<string>;

  constructor(etcd: Etcd3, cluster: string, nodes: ReadonlySet<string>) {
    this.etcd = etcd;
    this.cluster = cluster;
    this.nodes = nodes;
    this.objectsPrefix = keys.objectResourcePrefix(cluster, 'pods');
    this.statusPrefix = this.objectsPrefix.replace(keys.objectsPrefix(cluster), keys.statusPrefix(cluster));
  }

  async start(): Promise<void> {
    this.watcher = await this.etcd.watch().prefix(keys.cluster(this.cluster)).create();
    this.watcher.on('put', (kv) => this.onKv(kv, false));
    this.watcher.on('delete', (kv) => this.onKv(kv, true));
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    await this.watcher?.cancel();
  }

  private later(ms: number, fn: () => Promise<unknown>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn().catch(() => undefined);
    }, ms);
    this.timers.add(t);
  }

  /** These nodes report a node status (no images yet) and answer pre-pull requests. */
  async prePull(nodes: string[]): Promise<void> {
    for (const node of nodes) {
      const state = { wanted: new Map<string, string>(), status: { images: [], pulls: [] } as NodeStatus };
      this.pulls.set(node, state);
      await this.writeNodeStatus(node);
    }
  }

  /** Requests seen for a node's image (their newest mod revision), undefined if none. */
  requestedRevision(node: string, image: string): string | undefined {
    return this.pulls.get(node)?.wanted.get(image);
  }

  /** Report an outcome for the newest request of `image` on `node`. */
  async answerPull(node: string, image: string, state: 'Pulled' | 'Failed', message?: string): Promise<void> {
    const n = this.pulls.get(node)!;
    const revision = n.wanted.get(image);
    if (revision === undefined) throw new Error(`no request for ${image} on ${node}`);
    n.status.pulls = n.status.pulls.filter((p) => p.image !== image);
    n.status.pulls.push({
      image,
      state,
      revision,
      time: new Date().toISOString(),
      ...(message ? { message } : {}),
    });
    await this.writeNodeStatus(node);
  }

  private writeNodeStatus(node: string) {
    const key = keys.nodeStatus(this.cluster, node);
    return this.etcd.put(key).value(JSON.stringify(this.pulls.get(node)!.status));
  }

  private onPullRequest(key: string, kv: IKeyValue, deleted: boolean): void {
    const node = key.slice(keys.imagePullsPrefix(this.cluster).length).split('/')[0]!;
    const n = this.pulls.get(node);
    if (!n || deleted) return;
    const request = JSON.parse(kv.value.toString()) as ImagePullRequest;
    for (const { image } of request.images) {
      n.wanted.set(image, kv.mod_revision);
      if (this.pullDelayMs === undefined) continue;
      const fails = this.unpullable.has(image);
      this.later(this.pullDelayMs, () =>
        this.answerPull(node, image, fails ? 'Failed' : 'Pulled', fails ? 'manifest unknown' : undefined),
      );
    }
  }

  private onKv(kv: IKeyValue, deleted: boolean): void {
    const key = kv.key.toString();
    if (key.startsWith(keys.imagePullsPrefix(this.cluster))) {
      this.onPullRequest(key, kv, deleted);
      return;
    }
    const isObject = key.startsWith(this.objectsPrefix);
    if (!isObject && !key.startsWith(this.statusPrefix)) return;
    const id = key.slice((isObject ? this.objectsPrefix : this.statusPrefix).length);
    const have = this.pods.get(id);
    if (isObject) {
      if (deleted) this.pods.delete(id);
      else {
        const object = JSON.parse(kv.value.toString()) as Pod;
        const createRevision = kv.create_revision;
        const same = have && have.createRevision === createRevision;
        this.pods.set(id, {
          object,
          createRevision,
          ...(same && have.status ? { status: have.status } : {}),
        });
        this.act(id);
      }
    } else if (have) {
      if (deleted) delete have.status;
      else have.status = JSON.parse(kv.value.toString()) as PodStatus;
    }
    this.observer?.([...this.pods.values()]);
  }

  private act(id: string): void {
    const p = this.pods.get(id)!;
    const node = p.object.spec.nodeName;
    if (!node || !this.nodes.has(node)) return;
    const ref = {
      kind: 'Pod' as const,
      namespace: p.object.metadata.namespace!,
      name: p.object.metadata.name,
    };
    const tag = `${id}@${p.createRevision}`;
    if (p.object.metadata.deletionTimestamp) {
      if (this.answered.has(`${tag}:stop`)) return;
      this.answered.add(`${tag}:stop`);
      this.later(this.stopDelayMs, () =>
        deleteObjects(this.etcd, this.cluster, [{ ...ref, createRevision: p.createRevision }]),
      );
      return;
    }
    if (this.answered.has(tag)) return;
    this.answered.add(tag);
    this.later(this.readyDelayMs, () => {
      const now = new Date().toISOString();
      const crashing = p.object.spec.containers.some((c) => this.crashLooping.has(c.image));
      const ready = !crashing && !p.object.spec.containers.some((c) => this.neverReady.has(c.image));
      const status: PodStatus = {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now }],
        containerStatuses: p.object.spec.containers.map((c) => ({
          name: c.name,
          image: c.image,
          ready,
          restartCount: crashing ? 3 : 0,
          started: !crashing,
          state: crashing
            ? { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } }
            : { running: { startedAt: now } },
        })),
      };
      return writeStatus(this.etcd, this.cluster, ref, p.createRevision, status);
    });
  }
}
