// The cluster config in etcd: the current YAML text plus a bounded history, written in one transaction
// with compare-and-swap on the key's mod revision, so two editors never overwrite each other silently.
import type { Etcd3 } from 'etcd3';
import { validateConfigText } from '../config/validate.ts';
import { keys } from './keys.ts';

/** Stored config versions kept in history (README: "config history keeps the last 50 versions"). */
export const CONFIG_HISTORY_LIMIT = 50;

export interface StoredConfig {
  text: string;
  /** etcd mod revision of the config key: pass it back to `storeConfig` for compare-and-swap. */
  modRevision: string;
  /** 1 for the first stored config, +1 on every change. */
  version: number;
}

export interface HistoryEntry {
  version: number;
  time: string;
  by: string;
  text: string;
}

export class ConfigConflictError extends Error {
  constructor(cluster: string) {
    super(
      `the config of cluster "${cluster}" was changed by someone else meanwhile; nothing was written (re-read and retry)`,
    );
    this.name = 'ConfigConflictError';
  }
}

export async function readConfig(etcd: Etcd3, cluster: string): Promise<StoredConfig | null> {
  const res = await etcd.get(keys.config(cluster)).exec();
  const kv = res.kvs[0];
  if (!kv) return null;
  return { text: kv.value.toString('utf8'), modRevision: kv.mod_revision, version: Number(kv.version) };
}

export interface StoreResult {
  outcome: 'created' | 'configured' | 'unchanged';
  version: number;
}

/**
 * Validate and store config text. `expect` is the StoredConfig the caller read (null: the caller
 * expects no config yet); when etcd holds anything else the write is refused with ConfigConflictError.
 * `expect: 'latest'` reads the current value itself (a plain "make it so", as new-or-update does).
 */
export async function storeConfig(
  etcd: Etcd3,
  text: string,
  source: string,
  by: string,
  expect: StoredConfig | null | 'latest',
): Promise<StoreResult> {
  const { config } = validateConfigText(text, source);
  const cluster = config.cluster;
  const current = expect === 'latest' ? await readConfig(etcd, cluster) : expect;
  if (current && current.text === text) {
    const now = await readConfig(etcd, cluster);
    if (now?.modRevision === current.modRevision) return { outcome: 'unchanged', version: current.version };
    throw new ConfigConflictError(cluster);
  }
  const version = (current?.version ?? 0) + 1;
  const entry: HistoryEntry = { version, time: new Date().toISOString(), by, text };
  const ops: Array<ReturnType<Etcd3['put']> | ReturnType<Etcd3['delete']>> = [
    etcd.put(keys.config(cluster)).value(text),
    etcd.put(keys.configHistory(cluster, version)).value(JSON.stringify(entry)),
  ];
  const stale = version - CONFIG_HISTORY_LIMIT;
  if (stale >= 1) ops.push(etcd.delete().key(keys.configHistory(cluster, stale)));
  const res = await etcd
    .if(keys.config(cluster), 'Mod', '==', current ? Number(current.modRevision) : 0)
    .then(...ops)
    .commit();
  if (!res.succeeded) throw new ConfigConflictError(cluster);
  return { outcome: current ? 'configured' : 'created', version };
}

export async function readHistory(etcd: Etcd3, cluster: string): Promise<HistoryEntry[]> {
  const all = await etcd.getAll().prefix(keys.configHistoryPrefix(cluster)).sort('Key', 'Ascend').strings();
  return Object.values(all).map((v) => JSON.parse(v) as HistoryEntry);
}
