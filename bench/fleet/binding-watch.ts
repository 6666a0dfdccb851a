// When each pod was bound, as the bench sees it: a watch of every pod, a pod counted at the first event
// whose stored object names a node. Cheap on purpose (the bench shares the machine it measures): the value
// is searched for `"nodeName":`, not parsed. Removals are counted too (a round's Deployment deleted).
import type { Etcd3, Watcher } from 'etcd3';
import { keys } from '../../agent/store/keys.ts';

const NODE_NAME = Buffer.from('"nodeName":"');

export class BindingWatch {
  /** Pod key -> when it was first seen bound (ms since the epoch). */
  readonly boundAt = new Map<string, number>();
  first = Number.POSITIVE_INFINITY;
  last = 0;
  /** Pods removed since the start, and when the latest went. */
  deleted = 0;
  lastDeleteAt = 0;
  private watcher: Watcher | undefined;
  private readonly etcd: Etcd3;
  private readonly cluster: string;

  constructor(etcd: Etcd3, cluster: string) {
    this.etcd = etcd;
    this.cluster = cluster;
  }

  async start(): Promise<void> {
    this.watcher = await this.etcd.watch().prefix(keys.objectResourcePrefix(this.cluster, 'pods')).create();
    this.watcher.on('put', (kv) => {
      const key = kv.key.toString();
      if (this.boundAt.has(key) || !kv.value.includes(NODE_NAME)) return;
      const now = Date.now();
      this.boundAt.set(key, now);
      this.first = Math.min(this.first, now);
      this.last = now;
    });
    this.watcher.on('delete', () => {
      this.deleted++;
      this.lastDeleteAt = Date.now();
    });
  }

  /** Forget the pods seen bound so far (the next round counts its own). */
  reset(): void {
    this.boundAt.clear();
    this.first = Number.POSITIVE_INFINITY;
    this.last = 0;
  }

  async stop(): Promise<void> {
    await this.watcher?.cancel();
  }
}
