// Simulated agents (as KWOK or nomad-nodesim do it): N nodes in one process against a real etcd, each
// with what a real agent keeps there — a node record under its own lease (TTL as the agent's), kept
// alive once per TTL/3 over one shared keepalive stream — and, for the pods bound to them, a Running and
// Ready status written as their agent would (no Docker; as the agent, a node's statuses that wait for a
// write go together in one transaction: writeStatuses), and a Terminating pod removed. Writes go out at
// most `concurrency` at a time. Counts what it sent, so a run can tell its own etcd traffic from the
// heads'.
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { deleteObjects, type ObjectRef, writeStatuses } from '../../agent/objects/store.ts';
import type { Pod, PodStatus } from '../../agent/objects/types.ts';
import { keys } from '../../agent/store/keys.ts';
import type { NodeRecord } from '../../agent/store/node-registry.ts';

export interface SimOptions {
  count: number;
  /** The node records' lease TTL (the agent's NODE_LEASE_TTL_SECONDS). */
  ttlSeconds: number;
  cpus: number;
  memoryBytes: number;
  concurrency: number;
  prefix?: string;
}

export class SimFleet {
  readonly names: string[];
  readonly sent = { keepalives: 0, statuses: 0, deletes: 0, records: 0 };
  /** When each pod (namespace/name) was reported Running, and the latest such time. */
  readonly runningAt = new Map<string, number>();
  lastRunningAt = 0;
  private readonly leases: string[] = [];
  private readonly nodes: Set<string>;
  private watcher: Watcher | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private stream: Awaited<ReturnType<Etcd3['leaseClient']['leaseKeepAlive']>> | undefined;
  private readonly queue: Array<() => Promise<unknown>> = [];
  private inFlight = 0;
  private readonly done = new Set<string>();
  /** Per node: the statuses waiting for its write (one write in flight per node, as an agent's). */
  private readonly pendingStatuses = new Map<
    string,
    Array<{ ref: ObjectRef; createRevision: string; status: PodStatus }>
  >();

  private readonly etcd: Etcd3;
  private readonly cluster: string;
  private readonly o: SimOptions;

  constructor(etcd: Etcd3, cluster: string, o: SimOptions) {
    this.etcd = etcd;
    this.cluster = cluster;
    this.o = o;
    this.names = Array.from(
      { length: o.count },
      (_, i) => `${o.prefix ?? 'sim'}-${String(i).padStart(5, '0')}`,
    );
    this.nodes = new Set(this.names);
  }

  /** Leases, records, keepalives, then the pod watch. */
  async start(): Promise<void> {
    const grants = this.names.map((name) => async () => {
      const { ID } = await this.etcd.leaseClient.leaseGrant({ TTL: this.o.ttlSeconds });
      this.leases.push(ID);
      await this.etcd
        .put(keys.node(this.cluster, name))
        .value(JSON.stringify(this.record(name)))
        .lease(ID);
      this.sent.records++;
    });
    await this.all(grants);
    this.stream = await this.etcd.leaseClient.leaseKeepAlive();
    this.stream.on('error', () => undefined);
    this.stream.on('data', () => undefined);
    // Each lease once per TTL/3, spread evenly over that period (as N agents' timers would be).
    const period = (this.o.ttlSeconds * 1000) / 3;
    const tick = 100;
    const perTick = Math.ceil((this.leases.length * tick) / period);
    let next = 0;
    this.keepaliveTimer = setInterval(() => {
      for (let i = 0; i < perTick && this.leases.length > 0; i++) {
        this.stream!.write({ ID: this.leases[next % this.leases.length] });
        this.sent.keepalives++;
        next++;
      }
    }, tick);
    this.watcher = await this.etcd.watch().prefix(keys.objectResourcePrefix(this.cluster, 'pods')).create();
    this.watcher.on('put', (kv) => this.onPod(kv));
  }

  async stop(): Promise<void> {
    clearInterval(this.keepaliveTimer);
    await this.watcher?.cancel();
    this.stream?.end();
    await this.all(
      this.leases.map((ID) => () => this.etcd.leaseClient.leaseRevoke({ ID }).catch(() => undefined)),
    );
  }

  private record(name: string): NodeRecord {
    return {
      name,
      address: '127.0.0.1',
      roles: ['worker'],
      labels: { 'kubernetes.io/hostname': name, zone: `z${Number(name.slice(-5)) % 7}` },
      peerId: '',
      multiaddrs: [],
      capacity: {
        cpus: this.o.cpus,
        memoryBytes: this.o.memoryBytes,
        disks: [],
        gpus: [],
        os: { platform: 'linux', distro: 'sim', release: '', kernel: '', arch: 'x64' },
        containerRuntime: { name: 'docker', version: 'sim', apiVersion: '1.41' },
      },
      allocatable: { cpuMilli: this.o.cpus * 1000, memoryBytes: this.o.memoryBytes, pods: 110 },
      taints: [],
      agentVersion: 'sim',
      startedAt: new Date().toISOString(),
      incarnation: 1,
    };
  }

  private onPod(kv: IKeyValue): void {
    const pod = JSON.parse(kv.value.toString()) as Pod;
    const node = pod.spec.nodeName;
    if (!node || !this.nodes.has(node)) return;
    const id = `${pod.metadata.namespace}/${pod.metadata.name}@${kv.create_revision}`;
    const ref = { kind: 'Pod' as const, namespace: pod.metadata.namespace!, name: pod.metadata.name };
    if (pod.metadata.deletionTimestamp) {
      if (this.done.has(`${id}:stop`)) return;
      this.done.add(`${id}:stop`);
      this.enqueue(async () => {
        await deleteObjects(this.etcd, this.cluster, [{ ...ref, createRevision: kv.create_revision }]);
        this.sent.deletes++;
      });
      return;
    }
    if (this.done.has(id)) return;
    this.done.add(id);
    const now = new Date().toISOString();
    const status: PodStatus = {
      phase: 'Running',
      hostIP: '127.0.0.1',
      startTime: now,
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
      containerStatuses: pod.spec.containers.map((c) => ({
        name: c.name,
        image: c.image,
        ready: true,
        restartCount: 0,
        started: true,
        state: { running: { startedAt: now } },
      })),
    };
    const waiting = this.pendingStatuses.get(node);
    const item = { ref, createRevision: kv.create_revision, status };
    if (waiting) {
      waiting.push(item);
      return;
    }
    this.pendingStatuses.set(node, [item]);
    this.enqueue(() => this.writeNodeStatuses(node));
  }

  /** The node's waiting statuses in one write, again while more came meanwhile. */
  private async writeNodeStatuses(node: string): Promise<void> {
    try {
      for (let batch = this.pendingStatuses.get(node); batch && batch.length > 0; ) {
        this.pendingStatuses.set(node, []);
        await writeStatuses(this.etcd, this.cluster, batch);
        this.sent.statuses += batch.length;
        const at = Date.now();
        for (const { ref } of batch) this.runningAt.set(`${ref.namespace}/${ref.name}`, at);
        this.lastRunningAt = at;
        batch = this.pendingStatuses.get(node);
      }
    } finally {
      this.pendingStatuses.delete(node);
    }
  }

  private enqueue(job: () => Promise<unknown>): void {
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.o.concurrency && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.inFlight++;
      job()
        .catch(() => undefined)
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }

  /** Run jobs `concurrency` at a time, until all are done. */
  private async all(jobs: Array<() => Promise<unknown>>): Promise<void> {
    let i = 0;
    const worker = async () => {
      while (i < jobs.length) await jobs[i++]!();
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency, jobs.length) }, worker));
  }
}
