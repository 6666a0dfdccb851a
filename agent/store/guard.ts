// Compares that must hold for a write to land, added to its transaction. A leader's writes carry its
// fence (its election key still has the create revision it was elected with), so a deposed or paused
// leader's writes fail in etcd whatever its memory says; other conditions (a node record still absent)
// make a verdict hold only while what it was based on still holds.
import type { ComparatorBuilder, Etcd3 } from 'etcd3';

export interface Compare {
  key: string;
  target: 'Create' | 'Mod' | 'Version' | 'Lease';
  op: '==' | '!=' | '<' | '>';
  /** A revision, version or lease id (decimal string or number). */
  value: string | number;
}

export type Guard = readonly Compare[];

export const NO_GUARD: Guard = [];

/** A transaction whose compares are `first` plus the guard's. */
export function guardedTxn(etcd: Etcd3, guard: Guard, ...first: Compare[]): ComparatorBuilder {
  const all = [...first, ...guard];
  const head = all[0];
  // Create > -1 holds for any key (absent keys have 0): an unconditional transaction.
  if (!head) return etcd.if('/nokube', 'Create', '>', -1);
  const txn = etcd.if(head.key, head.target, head.op, head.value as never);
  for (const c of all.slice(1)) txn.and(c.key, c.target, c.op, c.value as never);
  return txn;
}

/** Compares and writes to add to another transaction (one that deletes a pod, say). */
export interface TxnPart {
  compares: Compare[];
  ops: Array<Parameters<ComparatorBuilder['then']>[number]>;
}

/** The key is absent (never created, or deleted). */
export const absent = (key: string): Compare => ({ key, target: 'Version', op: '==', value: 0 });
