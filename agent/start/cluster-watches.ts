// Start step 5: the two watches every agent keeps. The config key: changes apply live. The node records:
// they feed the mesh's peer list and the `node` event; our own record deleted while our lease lives is
// put back. Neither blocks start-up: each connects (and reconnects) in the background and re-reads its
// range each time it is connected, so nothing that changed while it was away is missed.
import type { Etcd3, Watcher } from 'etcd3';
import type { Logger } from '../log/logger.ts';
import { readConfig } from '../store/config-store.ts';
import { logEtcdFailure, shortReason } from '../store/etcd.ts';
import { keyLeaf, keys } from '../store/keys.ts';
import type { NodeRecord } from '../store/node-registry.ts';
import type { StepBasics } from './basics.ts';
import type { JoinedMesh } from './join-mesh.ts';
import type { NodeRecordKeeper } from './node-record.ts';

export interface ClusterWatches {
  cancel(): Promise<void>;
}

export function watchCluster(
  o: StepBasics & {
    mesh: JoinedMesh;
    node: NodeRecordKeeper;
    /** A config text stored in etcd, newer than the one we run on (or seen by the watch). */
    onConfig(text: string, version: number): void;
  },
): ClusterWatches {
  const { etcd, cluster, nodeName, node, events, log } = o;
  const resyncConfig = () => {
    readConfig(etcd, cluster).then(
      (stored) => {
        if (stored && stored.version !== o.live.version()) o.onConfig(stored.text, stored.version);
      },
      (err) => logEtcdFailure(log, err, {}, 'config resync failed'),
    );
  };
  const onNodePut = (value: string) => {
    const record = JSON.parse(value) as NodeRecord;
    if (record.name !== nodeName) o.mesh.rememberPeer(record.name, record.multiaddrs);
    events.emit('node', { type: 'put', node: record });
  };
  const resyncNodes = () => {
    etcd
      .getAll()
      .prefix(keys.nodesPrefix(cluster))
      .strings()
      .then(
        (all) => {
          for (const v of Object.values(all)) onNodePut(v);
          if (!all[keys.node(cluster, nodeName)] && node.registered) node.reassert();
        },
        (err) => logEtcdFailure(log, err, {}, 'node resync failed'),
      );
  };
  const watchers = [
    watchRange(etcd, { key: keys.config(cluster) }, log, {
      put: (kv) => o.onConfig(kv.value.toString('utf8'), Number(kv.version)),
      resync: resyncConfig,
    }),
    watchRange(etcd, { prefix: keys.nodesPrefix(cluster) }, log, {
      put: (kv) => onNodePut(kv.value.toString('utf8')),
      delete: (key) => {
        if (keyLeaf(key) === nodeName && node.registered) node.reassert();
        events.emit('node', { type: 'delete', name: keyLeaf(key) });
      },
      resync: resyncNodes,
    }),
  ];
  return {
    async cancel() {
      await Promise.all(watchers.map((w) => w.cancel())).catch(() => undefined);
    },
  };
}

function watchRange(
  etcd: Etcd3,
  range: { key: string } | { prefix: string },
  log: Logger,
  on: {
    put(kv: { key: Buffer; value: Buffer; version: string }): void;
    delete?(key: string): void;
    resync(): void;
  },
): Watcher {
  const builder = 'key' in range ? etcd.watch().key(range.key) : etcd.watch().prefix(range.prefix);
  const watcher = builder.watcher();
  watcher.on('connected', () => on.resync());
  watcher.on('put', (kv) => on.put(kv));
  watcher.on('delete', (kv) => on.delete?.(kv.key.toString('utf8')));
  watcher.on('error', (err) => log.warn({ err: shortReason(err), range }, 'watch error'));
  return watcher;
}
