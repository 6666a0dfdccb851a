// The informers of one cluster, shared by whoever reads it through the same etcd client (the pods part,
// the kubecontroller and the API's watches of one agent): one list and one watch per prefix, however
// many readers. An informer starts with its first reader and stops with its last.
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../../log/logger.ts';
import { fromKv, type Stored } from '../../objects/store.ts';
import type { KubeObject } from '../../objects/types.ts';
import { keys } from '../keys.ts';
import type { NodeRecord } from '../node-registry.ts';
import { type Entry, Informer } from './informer.ts';

/** A reader's hold on one informer: `release` once done (the last release stops it). */
export interface Lease<T> {
  informer: Informer<T>;
  release(): Promise<void>;
}

interface Shared {
  informer: Informer<unknown>;
  users: number;
}

const byClient = new WeakMap<Etcd3, Map<string, Shared>>();

function acquire<T>(
  etcd: Etcd3,
  prefix: string,
  decode: (kv: Parameters<typeof fromKv>[0]) => T,
  log: Logger,
) {
  const set = byClient.get(etcd) ?? new Map<string, Shared>();
  byClient.set(etcd, set);
  let shared = set.get(prefix);
  if (!shared) {
    shared = { informer: new Informer<unknown>({ etcd, prefix, decode, log }), users: 0 };
    set.set(prefix, shared);
    void shared.informer.start();
  }
  shared.users++;
  const held = shared;
  let released = false;
  return {
    informer: held.informer as Informer<T>,
    release: async () => {
      if (released) return;
      released = true;
      if (--held.users > 0) return;
      set.delete(prefix);
      await held.informer.stop();
    },
  };
}

/** Objects of one resource (plural, e.g. `pods`): keys `<namespace>/<name>` (or `<name>`), values as
 * `fromKv` gives them (resourceVersion filled in, no status). */
export const objectInformer = (etcd: Etcd3, cluster: string, resource: string, log: Logger): Lease<Stored> =>
  acquire(etcd, keys.objectResourcePrefix(cluster, resource), (kv) => fromKv<KubeObject>(kv), log);

/** Status of the objects of one resource: keys as objectInformer's, values the parsed JSON. */
export const statusInformer = (etcd: Etcd3, cluster: string, resource: string, log: Logger): Lease<unknown> =>
  acquire(
    etcd,
    `${keys.statusPrefix(cluster)}${resource}/`,
    (kv) => JSON.parse(kv.value.toString('utf8')) as unknown,
    log,
  );

/** Node records: key = node name. */
export const nodeInformer = (etcd: Etcd3, cluster: string, log: Logger): Lease<NodeRecord> =>
  acquire(etcd, keys.nodesPrefix(cluster), (kv) => JSON.parse(kv.value.toString('utf8')) as NodeRecord, log);

/** JSON values under a prefix of the cluster (image pull requests): keys relative to it. */
export const jsonInformer = <T>(etcd: Etcd3, prefix: string, log: Logger): Lease<T> =>
  acquire(etcd, prefix, (kv) => JSON.parse(kv.value.toString('utf8')) as T, log);

/** Drained nodes: key = node name. */
export const drainInformer = (etcd: Etcd3, cluster: string, log: Logger): Lease<true> =>
  acquire(etcd, keys.drainPrefix(cluster), () => true as const, log);

/** Cordoned nodes: key = node name. */
export const cordonInformer = (etcd: Etcd3, cluster: string, log: Logger): Lease<true> =>
  acquire(etcd, keys.cordonPrefix(cluster), () => true as const, log);

/** An object with its status from the two caches. The object is a shallow copy (its status set on the copy);
 * what it holds is the cache's own: readers do not change it (reconciles are pure). */
export function withStatus<T extends KubeObject>(
  entry: Entry<Stored>,
  status: Entry<unknown> | undefined,
): Stored<T> {
  const object = { ...entry.value.object } as T;
  if (status) (object as { status?: unknown }).status = status.value;
  return { ...entry.value, object };
}
