// The kubecontroller's leader in the test's process against a real etcd, its pods placed on node records
// the test wrote and "run" by simulated agents (fake-agents.ts); plus what Deployment rollout tests ask
// of it: read and change a Deployment as an apply would, its pods, its revisions, its events, whether
// its rollout is complete, and what a reconcile would do now.
import type { Etcd3 } from 'etcd3';
import { listEvents } from '../../agent/objects/events.ts';
import {
  getObject,
  listObjects,
  newMeta,
  objectKey,
  refOf,
  toStoredJson,
} from '../../agent/objects/store.ts';
import type { Deployment, PodTemplateSpec } from '../../agent/objects/types.ts';
import { createEtcd } from '../../agent/store/etcd.ts';
import { NO_GUARD } from '../../agent/store/guard.ts';
import type { LeaderCaches } from '../../head/controllers/caches.ts';
import { reconcileDeployment } from '../../head/controllers/deployment.ts';
import { Leader } from '../../head/controllers/kubecontroller.ts';
import { REVISION_ANNOTATION } from '../../head/controllers/revision-meta.ts';
import { eventually } from './cluster.ts';
import { startTestEtcd, type TestEtcd } from './etcd.ts';
import { FakeAgents, type FakePod, isLive, isPodReady, putFakeNodes } from './fake-agents.ts';
import { leaderContext } from './leader-context.ts';

export const template = (app: string, image = 'app:v1'): PodTemplateSpec => ({
  metadata: { labels: { app } },
  spec: { containers: [{ name: 'main', image }] },
});

/** A Deployment `name` selecting app=name, one container of app:v1, in the default namespace. */
export const testDeployment = (
  name: string,
  spec: Partial<Deployment['spec']> = {},
  annotations?: Record<string, string>,
): Deployment =>
  newMeta({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: 'default',
      uid: '',
      resourceVersion: '',
      generation: 0,
      creationTimestamp: '',
      ...(annotations ? { annotations } : {}),
    },
    spec: { selector: { matchLabels: { app: name } }, template: template(name), ...spec },
  });

export const progressing = (d: Deployment) => d.status?.conditions?.find((c) => c.type === 'Progressing');

export class RolloutWorld {
  server!: TestEtcd;
  etcd!: Etcd3;
  leader!: Leader;
  agents!: FakeAgents;
  readonly cluster: string;
  readonly nodes: string[];

  constructor(cluster: string, nodes: string[]) {
    this.cluster = cluster;
    this.nodes = nodes;
  }

  /** `prePull`: the simulated agents report node statuses and answer pre-pull requests. */
  async start(opts: { prePull?: boolean } = {}): Promise<void> {
    this.server = await startTestEtcd();
    this.etcd = await createEtcd({ endpoints: [this.server.url], dialTimeoutMs: 5000 });
    await putFakeNodes(this.etcd, this.cluster, this.nodes);
    this.agents = new FakeAgents(this.etcd, this.cluster, new Set(this.nodes));
    await this.agents.start();
    if (opts.prePull) await this.agents.prePull(this.nodes);
    this.leader = new Leader(leaderContext(this.etcd, this.cluster), NO_GUARD);
    this.leader.start();
  }

  async stop(): Promise<void> {
    this.leader?.stop();
    await this.agents?.stop();
    this.etcd?.close();
    await this.server?.stop();
  }

  ref = (name: string) => ({ kind: 'Deployment' as const, namespace: 'default', name });
  read = async (name: string) => (await getObject(this.etcd, this.cluster, this.ref(name)))!.object;

  /** Change the Deployment as an apply would (generation + 1 on a spec change), only over what was read. */
  async update(name: string, change: (d: Deployment) => void): Promise<void> {
    for (;;) {
      const s = (await getObject(this.etcd, this.cluster, this.ref(name), false))!;
      const spec = JSON.stringify(s.object.spec);
      change(s.object);
      if (JSON.stringify(s.object.spec) !== spec) s.object.metadata.generation++;
      const key = objectKey(this.cluster, refOf(s.object));
      const res = await this.etcd
        .if(key, 'Mod', '==', Number(s.modRevision))
        .then(this.etcd.put(key).value(toStoredJson(s.object)))
        .commit();
      if (res.succeeded) return;
    }
  }

  setImage = (name: string, image: string) =>
    this.update(name, (d) => {
      d.spec.template.spec.containers[0]!.image = image;
    });

  /** The Deployment's live pods (not Terminating), of `pods` or as the agents see them now. */
  mine = (name: string, pods: FakePod[] = [...this.agents.pods.values()]) =>
    pods.filter((p) => p.object.metadata.ownerReferences?.[0]?.name === name && isLive(p));
  imagesOf = (name: string) => this.mine(name).map((p) => p.object.spec.containers[0]!.image);

  /** Its revisions (ReplicaSets), oldest first. */
  revisions = async (name: string) =>
    (await listObjects(this.etcd, this.cluster, 'ReplicaSet', 'default'))
      .map((r) => r.object)
      .filter((r) => r.metadata.ownerReferences?.[0]?.name === name)
      .sort(
        (a, b) =>
          Number(a.metadata.annotations?.[REVISION_ANNOTATION]) -
          Number(b.metadata.annotations?.[REVISION_ANNOTATION]),
      );

  events = async (name: string) =>
    (await listEvents(this.etcd, this.cluster, this.ref(name))).map(
      (e) => `${e.type} ${e.reason}: ${e.message}`,
    );

  /** The rollout of the current template is complete (k8s' DeploymentComplete, Progressing says so), with
   * every pod ready. */
  complete = (name: string, timeoutMs = 20_000) =>
    eventually(
      async () => {
        const d = await this.read(name);
        const st = d.status;
        const want = d.spec.replicas ?? 1;
        return (
          st?.observedGeneration === d.metadata.generation &&
          st.replicas === want &&
          st.updatedReplicas === want &&
          st.availableReplicas === want &&
          progressing(d)?.reason === 'NewReplicaSetAvailable' &&
          this.mine(name).length === want &&
          this.mine(name).every(isPodReady) &&
          d
        );
      },
      timeoutMs,
      `the rollout of ${name} to complete`,
    );

  /** What reconciles of the Deployments (all, or `name`) would do now, from the leader's caches (wakes
   * left out): asked directly rather than waited for. */
  async pending(name?: string) {
    const caches = (this.leader as unknown as { caches: LeaderCaches }).caches;
    await caches.seenOwnWrites();
    const world = caches.world();
    return caches
      .list<Deployment>('deployments')
      .filter((d) => name === undefined || d.object.metadata.name === name)
      .flatMap((d) => reconcileDeployment(d, world, { now: new Date().toISOString() }))
      .filter((a) => a.type !== 'wake');
  }
}
