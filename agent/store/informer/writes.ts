// What a writer needs to wait for its own writes in an informer's cache: the etcd client it writes with,
// wrapped so that every write that changed a key reports (key, revision). Puts, deletes that removed
// something, and the operations of transactions that succeeded; a delete of an absent key changes
// nothing and is not reported (no informer would ever see it).
import type { Etcd3 } from 'etcd3';
import type { IDeleteRangeResponse, IRequestOp, ITxnRequest, ITxnResponse } from 'etcd3/lib/rpc.js';

export interface Write {
  key: string;
  revision: bigint;
}

export interface TrackedEtcd {
  /** Use it as the client: reads and leases go to the original. */
  etcd: Etcd3;
  /** The writes since the last call (taken: the next call starts empty). */
  take(): Write[];
}

/** The written keys are bounded: a writer that never takes them keeps the latest this many. */
const MAX_KEPT = 10_000;

export function trackWrites(base: Etcd3): TrackedEtcd {
  let writes: Write[] = [];
  const note = (key: Buffer | string | undefined, revision: string) => {
    if (key === undefined) return;
    if (writes.length >= MAX_KEPT) writes.shift();
    writes.push({ key: key.toString(), revision: BigInt(revision) });
  };
  const noteOps = (ops: IRequestOp[] | undefined, res: ITxnResponse) => {
    for (const [i, op] of (ops ?? []).entries()) {
      if (op.request_put) note(op.request_put.key, res.header.revision);
      const del = res.responses[i]?.response_delete_range as IDeleteRangeResponse | undefined;
      if (op.request_delete_range && del && Number(del.deleted) > 0)
        note(op.request_delete_range.key, res.header.revision);
    }
  };
  const kv = Object.create(base.kv) as Etcd3['kv'];
  kv.txn = async (req: ITxnRequest, options?: unknown) => {
    const res = await base.kv.txn(req, options as never);
    if (res.succeeded) noteOps(req.success, res);
    return res;
  };
  kv.put = async (req, options) => {
    const res = await base.kv.put(req, options);
    note(req.key, res.header.revision);
    return res;
  };
  kv.deleteRange = async (req, options) => {
    const res = await base.kv.deleteRange(req, options);
    if (Number(res.deleted) > 0) note(req.key, res.header.revision);
    return res;
  };
  const etcd = Object.create(base) as Etcd3;
  Object.defineProperty(etcd, 'kv', { value: kv });
  return {
    etcd,
    take: () => {
      const out = writes;
      writes = [];
      return out;
    },
  };
}
