// Objects in etcd: one key per object (JSON, without status), status in its own key. resourceVersion is
// the object key's mod revision, filled in on read. Every multi-key change is one transaction.
import { randomUUID } from 'node:crypto';
import type { Etcd3, IKeyValue } from 'etcd3';
import { secretsKeyring } from '../secrets/process-keyring.ts';
import { openIfPossible, sealSecret } from '../secrets/sealed-secret.ts';
import { type Compare, type Guard, guardedTxn, NO_GUARD, type TxnPart } from '../store/guard.ts';
import { keys } from '../store/keys.ts';
import { compareText } from '../text/compare.ts';
import { boundedStatusJson } from './sizes.ts';
import { type Kind, type KubeObject, namespaced, type ObjectOfKind, RESOURCE } from './types.ts';

/** Where one object lives. */
export interface ObjectRef {
  kind: Kind;
  namespace?: string;
  name: string;
}

export const objectKey = (cluster: string, ref: ObjectRef): string =>
  keys.object(cluster, RESOURCE[ref.kind], namespaced(ref.kind) ? ref.namespace : undefined, ref.name);
export const statusKey = (cluster: string, ref: ObjectRef): string =>
  keys.status(cluster, RESOURCE[ref.kind], namespaced(ref.kind) ? ref.namespace : undefined, ref.name);

export const refOf = (obj: KubeObject): ObjectRef =>
  obj.metadata.namespace === undefined
    ? { kind: obj.kind, name: obj.metadata.name }
    : { kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name };

export const describeRef = (ref: ObjectRef): string =>
  ref.namespace ? `${RESOURCE[ref.kind]}/${ref.namespace}/${ref.name}` : `${RESOURCE[ref.kind]}/${ref.name}`;

/** A stored object plus the etcd revisions a caller needs for compare-and-swap. */
export interface Stored<T extends KubeObject = KubeObject> {
  object: T;
  modRevision: string;
  createRevision: string;
}

/** Parse a stored object key-value (resourceVersion from the key's mod revision). A Secret is opened
 * with this process's keyring (agent/secrets): readers see its data in the clear; one this process
 * cannot open stays sealed (see sealedProblem). */
export function fromKv<T extends KubeObject = KubeObject>(kv: IKeyValue): Stored<T> {
  let object = JSON.parse(kv.value.toString('utf8')) as T;
  if (object.kind === 'Secret') object = openIfPossible(object, secretsKeyring());
  object.metadata.resourceVersion = kv.mod_revision;
  return { object, modRevision: kv.mod_revision, createRevision: kv.create_revision };
}

/** What is stored for an object, in the clear: everything but status and resourceVersion (which etcd
 * holds). Compare these, not toStoredJson's text (a Secret's envelope differs at every write). */
export function storedForm(obj: KubeObject): KubeObject {
  const { status: _status, ...rest } = obj as KubeObject & { status?: unknown };
  const { resourceVersion: _rv, ...metadata } = rest.metadata;
  return { ...rest, metadata } as KubeObject;
}

/** The JSON stored for an object: storedForm, a Secret's data sealed under the active key (throws
 * NoSecretsKeyError in a process without a keyring: never written in the clear). */
export function toStoredJson(obj: KubeObject): string {
  const form = storedForm(obj);
  return JSON.stringify(form.kind === 'Secret' ? sealSecret(form, secretsKeyring()) : form);
}

export async function getObject<K extends Kind>(
  etcd: Etcd3,
  cluster: string,
  ref: ObjectRef & { kind: K },
  withStatus = true,
): Promise<Stored<ObjectOfKind<K>> | null> {
  const res = await etcd.get(objectKey(cluster, ref)).exec();
  const kv = res.kvs[0];
  if (!kv) return null;
  const stored = fromKv<ObjectOfKind<K>>(kv);
  if (withStatus) {
    const status = await etcd.get(statusKey(cluster, ref)).string();
    if (status) (stored.object as { status?: unknown }).status = JSON.parse(status);
  }
  return stored;
}

/** Every object of a kind (in one namespace, or all), sorted by namespace then name, status merged. */
export async function listObjects<K extends Kind>(
  etcd: Etcd3,
  cluster: string,
  kind: K,
  namespace?: string,
  withStatus = true,
): Promise<Array<Stored<ObjectOfKind<K>>>> {
  return (await listObjectsAt(etcd, cluster, kind, namespace, withStatus)).items;
}

/** listObjects as of one revision, and that revision: objects and statuses are read in one transaction,
 * so they agree with each other, and a watch from `revision` + 1 misses nothing and repeats nothing (a
 * Kubernetes list's resourceVersion). */
export async function listObjectsAt<K extends Kind>(
  etcd: Etcd3,
  cluster: string,
  kind: K,
  namespace?: string,
  withStatus = true,
): Promise<{ items: Array<Stored<ObjectOfKind<K>>>; revision: string }> {
  const resource = RESOURCE[kind];
  const prefix =
    namespace !== undefined && namespaced(kind)
      ? keys.objectNamespacePrefix(cluster, resource, namespace)
      : keys.objectResourcePrefix(cluster, resource);
  const statusPrefix = prefix.replace(keys.objectsPrefix(cluster), keys.statusPrefix(cluster));
  const ranges = [etcd.getAll().prefix(prefix), ...(withStatus ? [etcd.getAll().prefix(statusPrefix)] : [])];
  const res = await guardedTxn(etcd, NO_GUARD)
    .then(...ranges)
    .commit();
  const [objects = [], statuses = []] = res.responses.map((r) => r.response_range?.kvs ?? []);
  const out = objects.map((kv) => fromKv<ObjectOfKind<K>>(kv));
  if (statuses.length > 0) {
    const byKey = new Map(statuses.map((kv) => [kv.key.toString('utf8'), kv.value]));
    for (const s of out) {
      const st = byKey.get(statusKey(cluster, refOf(s.object)));
      if (st) (s.object as { status?: unknown }).status = JSON.parse(st.toString('utf8'));
    }
  }
  out.sort(
    (a, b) =>
      compareText(a.object.metadata.namespace ?? '', b.object.metadata.namespace ?? '') ||
      compareText(a.object.metadata.name, b.object.metadata.name),
  );
  return { items: out, revision: res.header.revision };
}

export class ObjectConflictError extends Error {
  constructor(what: string) {
    super(`${what} was changed by someone else meanwhile; nothing was written (re-read and retry)`);
    this.name = 'ObjectConflictError';
  }
}

/** Fill in the server-set metadata of a new object (uid, generation 1, creationTimestamp). */
export function newMeta<T extends KubeObject>(obj: T): T {
  obj.metadata.uid = randomUUID();
  obj.metadata.generation = 1;
  obj.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  obj.metadata.resourceVersion = '0';
  return obj;
}

/** Create objects that must not exist yet, all or nothing (controllers creating pods). */
export async function createObjects(etcd: Etcd3, cluster: string, objs: KubeObject[]): Promise<void> {
  if (objs.length === 0) return;
  const txn = etcd.if(objectKey(cluster, refOf(objs[0]!)), 'Create', '==', 0);
  for (const o of objs.slice(1)) txn.and(objectKey(cluster, refOf(o)), 'Create', '==', 0);
  const res = await txn
    .then(...objs.map((o) => etcd.put(objectKey(cluster, refOf(o))).value(toStoredJson(o))))
    .commit();
  if (!res.succeeded) throw new ObjectConflictError(objs.map((o) => describeRef(refOf(o))).join(', '));
}

/** Delete objects with their status keys in one transaction (and under `guard`). A ref with a
 * `createRevision` is deleted only if its key still holds that creation: an object deleted and created
 * again meanwhile is left alone (the whole delete fails and false is returned). */
export async function deleteObjects(
  etcd: Etcd3,
  cluster: string,
  refs: Array<ObjectRef & { createRevision?: string }>,
  guard: Guard = NO_GUARD,
  alsoOps: TxnPart['ops'] = [],
): Promise<boolean> {
  if (refs.length === 0) return true;
  const ops = refs.flatMap((r) => [
    etcd.delete().key(objectKey(cluster, r)),
    etcd.delete().key(statusKey(cluster, r)),
  ]);
  ops.push(...(alsoOps as typeof ops));
  const compares = refs
    .filter((r) => r.createRevision !== undefined)
    .map(
      (r): Compare => ({ key: objectKey(cluster, r), target: 'Create', op: '==', value: r.createRevision! }),
    );
  const res = await guardedTxn(etcd, guard, ...compares)
    .then(...ops)
    .commit();
  return res.succeeded;
}

/**
 * Write an object's status, only while the object is the one the writer knows (same create revision):
 * a status write never resurrects a deleted object's status nor lands on a re-created one.
 * Returns false when the object is gone or replaced. A status over MAX_OBJECT_BYTES has its long texts
 * cut (boundedStatusJson); one that still does not fit throws StatusTooLargeError, writing nothing.
 */
export async function writeStatus(
  etcd: Etcd3,
  cluster: string,
  ref: ObjectRef,
  createRevision: string,
  status: unknown,
  guard: Guard = NO_GUARD,
): Promise<boolean> {
  const res = await guardedTxn(etcd, guard, {
    key: objectKey(cluster, ref),
    target: 'Create',
    op: '==',
    value: createRevision,
  })
    .then(etcd.put(statusKey(cluster, ref)).value(boundedStatusJson(ref, status)))
    .commit();
  return res.succeeded;
}

/** Statuses written in one transaction at most (a compare and a put each; etcd takes 128 of either). */
export const STATUSES_PER_TXN = 64;

/**
 * Several objects' statuses (an agent's pods that changed together: a burst of starts), each under the
 * same rule as writeStatus, in one transaction per STATUSES_PER_TXN: one etcd write for a node's burst
 * instead of one per pod. When any of a transaction's objects is gone or replaced, its statuses are
 * written one by one (the others still land). Returns, in order, whether each status was written.
 */
export async function writeStatuses(
  etcd: Etcd3,
  cluster: string,
  items: ReadonlyArray<{ ref: ObjectRef; createRevision: string; status: unknown }>,
): Promise<boolean[]> {
  const out: boolean[] = [];
  for (let i = 0; i < items.length; i += STATUSES_PER_TXN) {
    const batch = items.slice(i, i + STATUSES_PER_TXN);
    // A status too large even when cut is written alone below (where it throws, as writeStatus does).
    let values: string[] | undefined;
    try {
      values = batch.map(({ ref, status }) => boundedStatusJson(ref, status));
    } catch {
      values = undefined;
    }
    if (values && batch.length > 1) {
      const res = await guardedTxn(
        etcd,
        NO_GUARD,
        ...batch.map(({ ref, createRevision }) => ({
          key: objectKey(cluster, ref),
          target: 'Create' as const,
          op: '==' as const,
          value: createRevision,
        })),
      )
        .then(...batch.map(({ ref }, j) => etcd.put(statusKey(cluster, ref)).value(values![j]!)))
        .commit();
      if (res.succeeded) {
        out.push(...batch.map(() => true));
        continue;
      }
    }
    for (const { ref, createRevision, status } of batch)
      out.push(await writeStatus(etcd, cluster, ref, createRevision, status));
  }
  return out;
}
