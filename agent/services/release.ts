// Freeing a Service's ClusterIP and NodePorts in the transaction that deletes it: alone (`delete svc`),
// or with its whole namespace, whose transaction then also holds only while the namespace's Services are
// the ones read (a range compare: no Service key there changed since), so no allocation is left behind
// by a Service applied meanwhile, and none freed that another Service took since.
import { CompareResult, CompareTarget, comparator, type Etcd3, type ICompare, type IOperation } from 'etcd3';
import { objectKey, refOf, type Stored, statusKey } from '../objects/store.ts';
import type { Service } from '../objects/types.ts';
import type { Compare } from '../store/guard.ts';
import { keys } from '../store/keys.ts';
import { heldKeys } from './allocate.ts';

/** Delete a Service, its status and its allocation keys in one transaction, only while it is unchanged
 * since read. */
export async function deleteService(etcd: Etcd3, cluster: string, stored: Stored): Promise<boolean> {
  const svc = stored.object as Service;
  const ref = refOf(svc);
  const res = await etcd
    .if(objectKey(cluster, ref), 'Mod', '==', Number(stored.modRevision))
    .then(
      etcd.delete().key(objectKey(cluster, ref)),
      etcd.delete().key(statusKey(cluster, ref)),
      ...heldKeys(cluster, svc).map((k) => etcd.delete().key(k)),
    )
    .commit();
  return res.succeeded;
}

const raw = (c: Compare): ICompare => ({
  key: Buffer.from(c.key),
  target: CompareTarget[c.target],
  result: comparator[c.op],
  [c.target === 'Create'
    ? 'create_revision'
    : c.target === 'Mod'
      ? 'mod_revision'
      : c.target === 'Lease'
        ? 'lease'
        : 'version']: c.value,
});

/** The end of a prefix's range: the prefix with its last byte plus one. */
function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  b[b.length - 1]! += 1;
  return b;
}

export interface NamespaceRelease {
  /** Commit `ops` under `compares`, plus the deletes of the Services' allocation keys and the compares
   * that keep them right. False when a compare failed (nothing written). */
  commit(compares: Compare[], ops: IOperation[]): Promise<boolean>;
}

export async function namespaceServicesRelease(
  etcd: Etcd3,
  cluster: string,
  namespace: string,
): Promise<NamespaceRelease> {
  const prefix = keys.objectNamespacePrefix(cluster, 'services', namespace);
  const listed = await etcd.getAll().prefix(prefix).exec();
  const revision = BigInt(listed.header.revision);
  const held = listed.kvs.flatMap((kv) =>
    heldKeys(cluster, JSON.parse(kv.value.toString('utf8')) as Service),
  );
  const mods = await Promise.all(held.map(async (key) => ({ key, kv: (await etcd.get(key).exec()).kvs[0] })));
  return {
    async commit(compares, ops) {
      const compare: ICompare[] = [
        ...compares.map(raw),
        // No Service of the namespace created or changed since the list.
        {
          key: Buffer.from(prefix),
          range_end: prefixEnd(prefix),
          target: CompareTarget.Mod,
          result: CompareResult.Less,
          mod_revision: String(revision + 1n),
        },
        ...mods.map(({ key, kv }) => raw({ key, target: 'Mod', op: '==', value: kv ? kv.mod_revision : 0 })),
      ];
      const deletes = mods.filter((m) => m.kv).map((m) => etcd.delete().key(m.key));
      const res = await etcd.kv.txn({
        compare,
        success: await Promise.all([...ops, ...deletes].map((o) => o.op())),
        failure: [],
      });
      return res.succeeded;
    },
  };
}
