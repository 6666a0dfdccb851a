// Alive records of the actors an agent runs, all bound to the agent's one lease: keepalive cost is one
// per agent, and a dead agent's records vanish together when its lease expires (or a head revokes it).
// The set is kept in memory and re-put under a new lease when the old one was lost.
import type { Etcd3, Lease } from 'etcd3';
import type { Logger } from '../log/logger.ts';
import { shortReason } from './etcd.ts';
import { keys } from './keys.ts';

export interface AliveValue {
  node: string;
  /** Actor kind: kubecontroller, deployment, daemonset, job, pod, container. */
  actor: string;
  since: string;
  [extra: string]: unknown;
}

export class AliveRecords {
  private readonly records = new Map<string, string>();
  private lease: Lease | undefined;
  /** One write chain: writes land in the order they were asked for (a set then a delete stays deleted). */
  private chain: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly etcd: Etcd3;
  private readonly cluster: string;
  private readonly node: string;
  private readonly log: Logger;

  constructor(etcd: Etcd3, cluster: string, node: string, log: Logger) {
    this.etcd = etcd;
    this.cluster = cluster;
    this.node = node;
    this.log = log;
  }

  /** A (new) lease is registered: put every record under it. */
  attach(lease: Lease | undefined): void {
    this.lease = lease;
    if (!lease) return;
    for (const [key, value] of this.records) this.enqueue(() => lease.put(key).value(value).exec());
  }

  set(namespace: string, ownershipPath: string, value: AliveValue): void {
    const key = keys.alive(this.cluster, namespace, ownershipPath);
    const text = JSON.stringify(value);
    if (this.records.get(key) === text) return;
    this.records.set(key, text);
    const lease = this.lease;
    if (lease) this.enqueue(() => lease.put(key).value(text).exec());
  }

  has(namespace: string, ownershipPath: string): boolean {
    return this.records.has(keys.alive(this.cluster, namespace, ownershipPath));
  }

  /** Remove our record and every record of ours below it: a pod and its containers, one actor's records.
   * Not for a controller: the pods below its path are other actors' (delete). */
  deleteTree(namespace: string, ownershipPath: string): void {
    const key = keys.alive(this.cluster, namespace, ownershipPath);
    this.forget([...this.records.keys()].filter((k) => k === key || k.startsWith(`${key}/`)));
  }

  /** Remove our one record at the path, nothing below it (a controller's: the pods below its path are
   * their own actors' records, also on this node, and stay while those actors run). */
  delete(namespace: string, ownershipPath: string): void {
    const key = keys.alive(this.cluster, namespace, ownershipPath);
    this.forget(this.records.has(key) ? [key] : []);
  }

  /** Only keys this agent put, and only while they are still under its lease: a key another process holds
   * now (the next leader's kubecontroller record, a pod's records on another node below a controller's
   * path) is never touched. Without a lease (etcd away) nothing is deleted: ours expire with our lease. */
  private forget(ours: string[]): void {
    if (ours.length === 0) return;
    for (const k of ours) this.records.delete(k);
    const lease = this.lease;
    if (!lease) return;
    this.enqueue(async () => {
      const id = await lease.grant();
      await Promise.all(
        ours.map((k) => this.etcd.if(k, 'Lease', '==', id).then(this.etcd.delete().key(k)).commit()),
      );
    });
  }

  /** Wait for queued writes (tests, orderly stop). */
  flush(): Promise<void> {
    return this.chain;
  }

  stop(): void {
    clearTimeout(this.retryTimer);
    this.lease = undefined;
  }

  /** After a failed write: make etcd match the set again (put ours, delete our stale ones). */
  private async resync(): Promise<void> {
    const lease = this.lease;
    if (!lease) return;
    const stored = await this.etcd.getAll().prefix(keys.alivePrefix(this.cluster)).strings();
    for (const [key, value] of Object.entries(stored)) {
      if (this.records.has(key)) continue;
      const owner = (JSON.parse(value) as Partial<AliveValue>).node;
      // Ours from before (dropped while a write failed): deleted only if unchanged since it was read.
      if (owner === this.node)
        await this.etcd.if(key, 'Value', '==', value).then(this.etcd.delete().key(key)).commit();
    }
    for (const [key, value] of this.records)
      if (stored[key] !== value) await lease.put(key).value(value).exec();
  }

  private enqueue(write: () => Promise<unknown>): void {
    this.chain = this.chain.then(
      () =>
        write().then(
          () => undefined,
          // Not fatal: a lost lease re-puts everything on attach; etcd down means records expire anyway.
          (err) => {
            this.log.debug({ err: shortReason(err) }, 'alive record write failed; resync in 2 s');
            clearTimeout(this.retryTimer);
            this.retryTimer = setTimeout(() => this.enqueue(() => this.resync()), 2000);
            this.retryTimer.unref();
          },
        ),
      () => undefined,
    );
  }
}
