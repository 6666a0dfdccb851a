// kubectl apply/delete semantics on etcd: every object of one apply is written in ONE transaction that
// compares each object's mod revision (or its absence) with what was read; on a conflict the read and
// the transaction are retried a few times, then a clear error. Never partial.
import type { Etcd3 } from 'etcd3';
import {
  type AllocationPlan,
  clusterIpChange,
  keepAllocated,
  planAllocations,
} from '../services/allocate.ts';
import { readServiceRanges } from '../services/ranges.ts';
import { deleteService, namespaceServicesRelease } from '../services/release.ts';
import { absent } from '../store/guard.ts';
import { keys } from '../store/keys.ts';
import { canonical } from './canonical.ts';
import { withDefaults } from './defaults.ts';
import { immutableFieldChanges } from './immutable-fields.ts';
import { describeObject, objectName, resourceWithGroup } from './kubectl-names.ts';
import { namespacePolicy } from './namespace-policy.ts';
import { deletePod } from './pod-deletion.ts';
import { priorityClassProblems } from './priority-classes.ts';
import { applySizeProblem, objectSizeProblem } from './sizes.ts';
import {
  deleteObjects,
  fromKv,
  getObject,
  listObjects,
  newMeta,
  ObjectConflictError,
  type ObjectRef,
  objectKey,
  refOf,
  type Stored,
  statusKey,
  storedForm,
  toStoredJson,
} from './store.ts';
import {
  DEFAULT_NAMESPACE,
  isBuiltinNamespace,
  KINDS,
  type KubeObject,
  namespaced,
  RESOURCE,
} from './types.ts';
import { documentLabel, type Manifest, ManifestError } from './validate.ts';

export type ApplyAction = 'created' | 'configured' | 'unchanged';

export interface ApplyResult {
  kind: KubeObject['kind'];
  namespace?: string;
  name: string;
  action: ApplyAction;
  /** kubectl's line: `deployment.apps/web created`. */
  text: string;
  object: KubeObject;
}

/** The apply is refused (immutable field, missing namespace, ...): nothing was written. */
export class ApplyError extends ManifestError {
  override name = 'ApplyError';
}

/** The object does not exist (kubectl: `Error from server (NotFound): ...`). */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(`Error from server (NotFound): ${message}`);
    this.name = 'NotFoundError';
  }
}

const ATTEMPTS = 5;

export async function applyManifests(
  etcd: Etcd3,
  cluster: string,
  manifests: Manifest[],
  by: string,
  /** `create`: as `kubectl create`, an object that exists already is an error (AlreadyExists). */
  /** `authorize`: throws to refuse the plan (each object's action as read, before the transaction that
   * compares those reads: an object created meanwhile makes the transaction fail and the plan be checked
   * again). */
  /** `expect`: per manifest, the resourceVersion the object must still have (kubectl's update: a
   * read-modify-write that fails with a conflict when someone wrote in between); undefined: any. */
  opts: {
    dryRun?: boolean;
    create?: boolean;
    authorize?: (results: readonly ApplyResult[]) => void;
    expect?: ReadonlyArray<string | undefined>;
  } = {},
): Promise<ApplyResult[]> {
  for (let attempt = 1; ; attempt++) {
    const plan = await planApply(etcd, cluster, manifests, opts.create === true, opts.expect);
    opts.authorize?.(plan.results);
    const writes = plan.results.filter((r) => r.action !== 'unchanged');
    if (opts.dryRun || writes.length === 0) return plan.results;
    const compares = plan.reads;
    const first = compares[0]!;
    const txn = etcd.if(first.key, 'Mod', '==', first.mod);
    for (const c of compares.slice(1)) txn.and(c.key, 'Mod', '==', c.mod);
    const { claims, frees } = plan.allocations;
    const res = await txn
      .then(
        ...writes.map((w) => etcd.put(objectKey(cluster, refOf(w.object))).value(toStoredJson(w.object))),
        ...claims.map((c) => etcd.put(c.key).value(c.value)),
        ...frees.map((f) => etcd.delete().key(f.key)),
      )
      .commit()
      .catch((err: Error) => {
        if (!/too many operations in txn/.test(err.message)) throw err;
        throw new ApplyError([
          `this apply checks ${compares.length} keys and writes ${writes.length} objects in one etcd transaction, more than etcd allows (--max-txn-ops, 128 by default): apply fewer objects at a time`,
        ]);
      });
    if (res.succeeded) {
      const rev = res.header.revision;
      for (const w of writes) w.object.metadata.resourceVersion = rev;
      return plan.results;
    }
    if (attempt >= ATTEMPTS)
      throw new ObjectConflictError(
        `${writes.map((w) => objectName(w)).join(', ')} (applied by ${by}; ${ATTEMPTS} attempts)`,
      );
  }
}

interface Plan {
  results: ApplyResult[];
  /** Every key read (objects, the namespaces they need, Services' allocation keys and the config they
   * were allocated from) with the mod revision seen (0: absent). */
  reads: Array<{ key: string; mod: number }>;
  /** Services' ClusterIPs and NodePorts this apply claims and frees (agent/services/allocate.ts). */
  allocations: AllocationPlan;
}

async function planApply(
  etcd: Etcd3,
  cluster: string,
  manifests: Manifest[],
  create: boolean,
  expect: ReadonlyArray<string | undefined> = [],
): Promise<Plan> {
  const reads: Plan['reads'] = [];
  const read = async (ref: ObjectRef): Promise<Stored | null> => {
    const key = objectKey(cluster, ref);
    const kv = (await etcd.get(key).exec()).kvs[0];
    reads.push({ key, mod: kv ? Number(kv.mod_revision) : 0 });
    return kv ? fromKv(kv) : null;
  };
  const problems: string[] = [];
  const applying = new Set(
    manifests.filter((m) => m.object.kind === 'Namespace').map((m) => m.object.metadata.name),
  );
  const needed = new Set(
    manifests
      .map((m) => m.object.metadata.namespace)
      .filter((ns): ns is string => ns !== undefined && !isBuiltinNamespace(ns) && !applying.has(ns)),
  );
  const existing = await Promise.all(manifests.map((m) => read(refOf(m.object))));
  manifests.forEach((m, i) => {
    const rv = expect[i];
    if (rv !== undefined && (existing[i]?.modRevision ?? '0') !== rv)
      throw new ObjectConflictError(`${describeObject(m.object)} (resourceVersion ${rv})`);
  });
  const namespaces = await Promise.all(
    [...needed].map(async (ns) => [ns, await read({ kind: 'Namespace', name: ns })] as const),
  );
  // A Job created from a CronJob (`create job --from`) may name that CronJob as its controller, as kubectl's
  // does, when the CronJob is there with that uid (read here: compared by the transaction).
  const ownedByCronJob = await Promise.all(
    manifests.map(async (m, i) => {
      const owners = m.object.metadata.ownerReferences;
      const [o] = owners ?? [];
      if (!create || existing[i] || m.object.kind !== 'Job' || owners?.length !== 1 || o?.kind !== 'CronJob')
        return false;
      const cron = await read({ kind: 'CronJob', namespace: m.object.metadata.namespace, name: o.name });
      return o.apiVersion === 'batch/v1' && o.controller === true && cron?.object.metadata.uid === o.uid;
    }),
  );
  for (const [ns, stored] of namespaces)
    if (!stored) problems.push(`Error from server (NotFound): namespaces "${ns}" not found`);
  problems.push(
    ...(await priorityClassProblems(
      etcd,
      cluster,
      manifests.map((m) => m.object),
      read,
    )),
  );
  const defaulted = manifests.map((m) => withDefaults(m.object));
  const policy = await namespacePolicy(etcd, cluster, defaulted, (o) => {
    const m = manifests[defaulted.indexOf(o)]!;
    return `${m.origin.source}: ${documentLabel(m.origin)}: ${describeObject(o)}`;
  });
  problems.push(...policy.problems);

  const results = manifests.map((m, i): ApplyResult => {
    // Both sides with k8s' defaults: a default spelled out equals a default left out, also against an
    // object stored before defaulting existed (which is then kept as stored).
    const desired = policy.admit(defaulted[i]!);
    const ref = refOf(desired);
    const base = {
      kind: desired.kind,
      name: desired.metadata.name,
      ...(ref.namespace ? { namespace: ref.namespace } : {}),
    };
    const stored = existing[i]?.object;
    if (create && (stored || (desired.kind === 'Namespace' && isBuiltinNamespace(desired.metadata.name))))
      problems.push(
        `Error from server (AlreadyExists): ${resourceWithGroup(desired.kind)} "${desired.metadata.name}" already exists`,
      );
    const old = stored && withDefaults(stored);
    const owners = desired.metadata.ownerReferences;
    if (owners && !ownedByCronJob[i] && canonical(owners) !== canonical(old?.metadata.ownerReferences ?? []))
      problems.push(
        `${m.origin.source}: ${documentLabel(m.origin)}: metadata.ownerReferences: set by nokube's controllers only (and by create job --from, naming its CronJob); a manifest may repeat the stored ones unchanged`,
      );
    if (!old) {
      newMeta(desired);
      return { ...base, action: 'created', text: `${objectName(ref)} created`, object: desired };
    }
    const refused = (why: string) => {
      problems.push(`${m.origin.source}: ${documentLabel(m.origin)}: ${describeObject(old)}: ${why}`);
    };
    if (old.metadata.deletionTimestamp) refused('is being deleted; apply again once it is gone');
    const merged = mergeInto(old, desired, refused);
    const same = canonical(storedForm(merged)) === canonical(storedForm(old));
    return {
      ...base,
      action: same ? 'unchanged' : 'configured',
      text: `${objectName(ref)} ${same ? 'unchanged' : 'configured'}`,
      object: same ? stored! : merged,
    };
  });
  problems.push(...sizeProblems(manifests, results));
  if (problems.length > 0) throw new ApplyError(problems);
  const allocations = await allocate(etcd, cluster, manifests, results, existing, reads);
  if (allocations.problems.length > 0) throw new ApplyError(allocations.problems);
  return { results, reads, allocations };
}

/** The Services this apply writes get their ClusterIP and NodePorts (in the objects it writes); the keys
 * claimed, freed and the config read are compared in the apply's transaction. */
async function allocate(
  etcd: Etcd3,
  cluster: string,
  manifests: Manifest[],
  results: ApplyResult[],
  existing: Array<Stored | null>,
  reads: Plan['reads'],
): Promise<AllocationPlan> {
  const changes = results.flatMap((r, i) => {
    if (r.object.kind !== 'Service' || r.action === 'unchanged') return [];
    const old = existing[i]?.object;
    const origin = manifests[i]!.origin;
    return [
      {
        desired: r.object,
        ...(old?.kind === 'Service' ? { old: withDefaults(old) } : {}),
        where: `${origin.source}: ${documentLabel(origin)}: ${describeObject(r.object)}`,
      },
    ];
  });
  if (changes.length === 0) return { claims: [], frees: [], problems: [] };
  const { ranges, read } = await readServiceRanges(etcd, cluster);
  const plan = await planAllocations(etcd, cluster, ranges, changes);
  reads.push(read, ...plan.claims.map((c) => ({ key: c.key, mod: 0 })), ...plan.frees);
  return plan;
}

/** Objects this apply would write over MAX_OBJECT_BYTES, or all of them over MAX_APPLY_BYTES. */
function sizeProblems(manifests: Manifest[], results: ApplyResult[]): string[] {
  const problems: string[] = [];
  const written: string[] = [];
  results.forEach((r, i) => {
    if (r.action === 'unchanged') return;
    const json = toStoredJson(r.object);
    written.push(json);
    const tooBig = objectSizeProblem(json);
    const origin = manifests[i]!.origin;
    if (tooBig)
      problems.push(`${origin.source}: ${documentLabel(origin)}: ${describeObject(r.object)} ${tooBig}`);
  });
  const tooMuch = problems.length === 0 ? applySizeProblem(written) : undefined;
  return tooMuch ? [tooMuch] : problems;
}

/** The desired object on top of the stored one: server-set metadata kept, generation +1 on a change of
 * spec (or data/binaryData/type), immutability rules checked. */
function mergeInto(old: KubeObject, desired: KubeObject, refused: (why: string) => void): KubeObject {
  const o = old as unknown as Record<string, unknown>;
  const d = desired as unknown as Record<string, unknown>;
  if (desired.kind === 'Pod' && old.kind === 'Pod') {
    // nokube sets nodeName itself: a manifest without one keeps the bound node.
    if (desired.spec.nodeName === undefined && old.spec.nodeName !== undefined)
      desired.spec = { ...desired.spec, nodeName: old.spec.nodeName };
    if (canonical(desired.spec) !== canonical(old.spec))
      refused('Pod spec is immutable; delete and re-create it');
  }
  if (desired.kind === 'Service' && old.kind === 'Service') {
    keepAllocated(old, desired);
    const changed = clusterIpChange(old, desired);
    if (changed) refused(changed);
  }
  for (const why of immutableFieldChanges(old, desired)) refused(why);
  const fields = ['spec', 'data', 'binaryData', 'type', 'immutable'];
  const metadata = {
    ...desired.metadata,
    uid: old.metadata.uid,
    generation:
      old.metadata.generation +
      (fields.some((f) => f !== 'immutable' && canonical(d[f]) !== canonical(o[f])) ? 1 : 0),
    creationTimestamp: old.metadata.creationTimestamp,
    resourceVersion: old.metadata.resourceVersion,
    ...(old.metadata.ownerReferences ? { ownerReferences: old.metadata.ownerReferences } : {}),
  };
  return { ...desired, metadata } as KubeObject;
}

export interface DeleteResult {
  ref: ObjectRef;
  /** `deployment.apps "web" deleted`, or `... not found` with ignoreNotFound. */
  text: string;
  deleted: boolean;
  /** A pod left Terminating (its agent removes it): its uid, for `delete --wait`. */
  terminatingUid?: string;
}

/**
 * Delete one object (with its status) in one transaction. A pod is deleted gracefully (pod-deletion.ts:
 * marked Terminating for its agent to finish, or removed at once). Controller objects are deleted alone:
 * their pods go by cascade (the leader's sweep, gracefully). A Namespace takes every object in it along,
 * in the same transaction.
 */
export async function deleteObject(
  etcd: Etcd3,
  cluster: string,
  ref: ObjectRef,
  opts: { ignoreNotFound?: boolean; dryRun?: boolean; gracePeriodSeconds?: number } = {},
): Promise<DeleteResult> {
  const key = `${resourceWithGroup(ref.kind)} "${ref.name}"`;
  if (ref.kind === 'Namespace' && isBuiltinNamespace(ref.name))
    throw new ApplyError([
      `Error from server (Forbidden): namespaces "${ref.name}" is forbidden: this namespace may not be deleted`,
    ]);
  const missing = (): DeleteResult => {
    if (opts.ignoreNotFound) return { ref, text: `${key} not found`, deleted: false };
    throw new NotFoundError(
      `${key} not found${ref.namespace && ref.namespace !== DEFAULT_NAMESPACE ? ` in namespace ${ref.namespace}` : ''}`,
    );
  };
  // kubectl says "force deleted" for a grace of 0 (it sends one only with --force).
  const done = { ref, text: `${key} ${opts.gracePeriodSeconds === 0 ? 'force ' : ''}deleted`, deleted: true };
  const dry = { ...done, text: `${done.text} (dry run)` };
  if (ref.kind === 'Pod') {
    for (let i = 0; i < ATTEMPTS; i++) {
      const stored = await getObject(etcd, cluster, { ...ref, kind: 'Pod' });
      if (!stored) return missing();
      if (opts.dryRun) return dry;
      const outcome = await deletePod(etcd, cluster, stored, {
        ...(opts.gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds: opts.gracePeriodSeconds }),
      });
      if (outcome === 'removed') return done;
      if (outcome !== 'conflict') return { ...done, terminatingUid: stored.object.metadata.uid };
    }
    throw new ObjectConflictError(`${key} (changed while deleting)`);
  }
  const kv = (await etcd.get(objectKey(cluster, ref)).exec()).kvs[0];
  if (!kv) return missing();
  if (opts.dryRun) return dry;
  const ok =
    ref.kind === 'Namespace'
      ? await deleteNamespace(etcd, cluster, ref.name, kv.create_revision, opts.gracePeriodSeconds)
      : ref.kind === 'Service'
        ? await deleteService(etcd, cluster, fromKv(kv))
        : await deleteObjects(etcd, cluster, [{ ...ref, createRevision: kv.create_revision }]);
  if (!ok) throw new ObjectConflictError(`${key} (replaced while deleting)`);
  return done;
}

/**
 * A Namespace and everything in it but its pods (objects and statuses, by key prefix) in one transaction
 * of a fixed size, whatever the number of objects: an object applied into the namespace meanwhile goes
 * too. Its pods are then deleted gracefully, each on its own (Terminating while their agents stop them),
 * only while the namespace is still absent; the leader's sweep deletes any this misses (node-lifecycle.ts),
 * as the Kubernetes namespace controller does.
 */
async function deleteNamespace(
  etcd: Etcd3,
  cluster: string,
  name: string,
  createRevision: string,
  gracePeriodSeconds: number | undefined,
): Promise<boolean> {
  const ref: ObjectRef = { kind: 'Namespace', name };
  const ops = [etcd.delete().key(objectKey(cluster, ref)), etcd.delete().key(statusKey(cluster, ref))];
  for (const kind of KINDS.filter((k) => namespaced(k) && k !== 'Pod')) {
    const prefix = keys.objectNamespacePrefix(cluster, RESOURCE[kind], name);
    ops.push(etcd.delete().prefix(prefix));
    ops.push(etcd.delete().prefix(prefix.replace(keys.objectsPrefix(cluster), keys.statusPrefix(cluster))));
  }
  // The Services' ClusterIPs and NodePorts go in the same transaction, which holds only while the
  // namespace's Services are the ones read.
  const release = await namespaceServicesRelease(etcd, cluster, name);
  const res = await release.commit(
    [{ key: objectKey(cluster, ref), target: 'Create', op: '==', value: createRevision }],
    ops,
  );
  if (!res) return false;
  const stillAbsent = [absent(objectKey(cluster, ref))];
  for (const pod of await listObjects(etcd, cluster, 'Pod', name))
    await deletePod(etcd, cluster, pod, {
      guard: stillAbsent,
      ...(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds }),
    });
  return true;
}
