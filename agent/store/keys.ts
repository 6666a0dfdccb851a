// The etcd key layout, built in one place. Every key of a cluster lives under /nokube/<cluster>/.
// README "etcd key layout" documents the same table; a test checks the two agree.
export const ROOT = '/nokube';

export const keys = {
  /** Everything of one cluster: one range read or one watch covers it. */
  cluster: (cluster: string) => `${ROOT}/${cluster}/`,
  /** Current cluster config, the YAML text as the user wrote it. */
  config: (cluster: string) => `${ROOT}/${cluster}/config`,
  /** One JSON entry per stored config version: {version, time, by, text}. */
  configHistoryPrefix: (cluster: string) => `${ROOT}/${cluster}/config-history/`,
  configHistory: (cluster: string, version: number) =>
    `${ROOT}/${cluster}/config-history/${String(version).padStart(12, '0')}`,
  /** Node records, JSON, each bound to its agent's lease (gone when the agent is). */
  nodesPrefix: (cluster: string) => `${ROOT}/${cluster}/nodes/`,
  node: (cluster: string, node: string) => `${ROOT}/${cluster}/nodes/${node}`,
} as const;

/** The last path segment of a key: the node name of a node key, the version of a history key. */
export function keyLeaf(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}
