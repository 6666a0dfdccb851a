// Start step 5: the two watches every agent keeps. The config key: changes apply live (one key: its watch
// re-reads it on every connect and compares versions). The node records, through the shared node informer
// (agent/store/informer: one list and watch with the leader's caches on a head): they feed the mesh's peer
// list and its admission (agent/mesh/admission.ts) and the `node` event; our own record deleted while our
// lease lives is put back, also when a re-list finds it gone. Neither blocks start-up: both connect (and
// reconnect) in the background, so nothing that changed while they were away is missed.
import type { Etcd3, Watcher } from 'etcd3';
import type { Logger } from '../log/logger.ts';
import { readConfig } from '../store/config-store.ts';
import { logEtcdFailure, shortReason } from '../store/etcd.ts';
import { nodeInformer } from '../store/informer/cluster.ts';
import type { Via } from '../store/informer/informer.ts';
import { keys } from '../store/keys.ts';
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
  const onNodePut = (record: NodeRecord, via: Via) => {
    if (record.name !== nodeName) o.mesh.rememberPeer(record, via === 'watch');
    events.emit('node', { type: 'put', node: record });
  };
  const reassertIfGone = () => {
    if (!nodes.informer.get(nodeName) && node.registered) node.reassert();
  };
  const nodes = nodeInformer(etcd, cluster, log);
  const offNodes = nodes.informer.on({
    add: (_name, e, via) => onNodePut(e.value, via),
    update: (_name, e, _old, via) => onNodePut(e.value, via),
    delete: (name) => {
      if (name !== nodeName) o.mesh.forgetPeer(name);
      events.emit('node', { type: 'delete', name });
      reassertIfGone();
    },
    listed: () => {
      // The peers cache may name nodes whose records went while we were away: no longer admitted.
      o.mesh.forgetPeersExcept((name) => name === nodeName || nodes.informer.get(name) !== undefined);
      reassertIfGone();
    },
  });
  const config = watchKey(etcd, keys.config(cluster), log, {
    put: (kv) => o.onConfig(kv.value.toString('utf8'), Number(kv.version)),
    resync: resyncConfig,
  });
  return {
    async cancel() {
      offNodes();
      await Promise.all([config.cancel(), nodes.release()]).catch(() => undefined);
    },
  };
}

function watchKey(
  etcd: Etcd3,
  key: string,
  log: Logger,
  on: { put(kv: { key: Buffer; value: Buffer; version: string }): void; resync(): void },
): Watcher {
  const watcher = etcd.watch().key(key).watcher();
  watcher.on('connected', () => on.resync());
  watcher.on('put', (kv) => on.put(kv));
  watcher.on('error', (err) => log.warn({ err: shortReason(err), key }, 'watch error'));
  return watcher;
}
