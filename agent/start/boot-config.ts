// Start step 1: the cluster config to start from. etcd is the truth; when it does not answer, a restart
// runs on the local cache of what it last knew, and only a first start (nothing cached) fails fast.
import type { Etcd3 } from 'etcd3';
import type { ClusterConfig } from '../config/schema.ts';
import type { ConfigSource } from '../config/source.ts';
import { loadConfigFile, validateConfigText } from '../config/validate.ts';
import { AgentStartError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { OutageLog } from '../log/outage-log.ts';
import { readConfigCache } from '../state/config-cache.ts';
import { readConfig } from '../store/config-store.ts';
import { connectEtcd, createEtcd, EtcdUnreachableError } from '../store/etcd.ts';
import { keys } from '../store/keys.ts';

export interface BootConfig {
  /** The agent's etcd client (connected, or still trying when the config came from the cache). */
  etcd: Etcd3;
  config: ClusterConfig;
  text: string;
  version: number | null;
  from: 'etcd' | 'cache';
}

export async function loadBootConfig(
  source: ConfigSource,
  opts: { nodeName: string; workspace?: string | undefined; log: Logger },
  outage: OutageLog,
): Promise<BootConfig> {
  const where = keys.config(source.cluster);
  let etcd: Etcd3;
  try {
    etcd = await connectEtcd(source.etcd, { outage });
  } catch (err) {
    if (!(err instanceof EtcdUnreachableError)) throw err;
    // Only a first start with nothing cached fails fast; a restart runs on what it last knew.
    const workspace =
      opts.workspace ?? (source.file ? await workspaceFromFile(source, opts.nodeName) : undefined);
    const cached = workspace ? await readConfigCache(workspace) : null;
    if (!cached)
      throw new AgentStartError(`${err.message}; no cached config to start from (first start needs etcd)`);
    opts.log.warn({ reason: err.message }, 'etcd unreachable: starting from the cached config, degraded');
    const { config } = validateConfigText(cached, `${workspace}/agent/config-cache.yaml`);
    const etcd = await createEtcd(source.etcd, { outage });
    return { etcd, config, text: cached, version: null, from: 'cache' };
  }
  const stored = await readConfig(etcd, source.cluster);
  if (!stored) {
    etcd.close();
    throw new AgentStartError(
      `cluster "${source.cluster}" has no config in etcd (key ${where}); store one first: nokube new-or-update <cluster.yaml>`,
    );
  }
  const { config } = validateConfigText(stored.text, where);
  return { etcd, config, text: stored.text, version: stored.version, from: 'etcd' };
}

async function workspaceFromFile(source: ConfigSource, nodeName: string): Promise<string | undefined> {
  const { config } = await loadConfigFile(source.file!);
  return config.nodes.find((n) => n.name === nodeName)?.workspace;
}
