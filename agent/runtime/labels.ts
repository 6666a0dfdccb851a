// Labels on every container nokube makes for a pod: they say who owns it, so a restarted agent can adopt
// its containers and several agents can share one engine (always filter by cluster + node).
export const LABEL = {
  cluster: 'nokube.cluster',
  node: 'nokube.node',
  namespace: 'nokube.namespace',
  pod: 'nokube.pod',
  podUid: 'nokube.pod-uid',
  container: 'nokube.container',
  ownerPath: 'nokube.owner-path',
  specHash: 'nokube.spec-hash',
  /** On a pod's sandbox (agent/podnet), which holds its network namespace; it has no container label. */
  sandbox: 'nokube.sandbox',
} as const;

/** Docker names allow [a-zA-Z0-9][a-zA-Z0-9_.-]; k8s names are already within that (lower-case, -, .). */
export function containerName(cluster: string, namespace: string, pod: string, container: string): string {
  return `nokube_${cluster}_${namespace}_${pod}_${container}`;
}

/** Every container of ours on the node: the pods' containers and their sandboxes. */
export const ourContainers = (cluster: string, node: string) => ({
  label: [`${LABEL.cluster}=${cluster}`, `${LABEL.node}=${node}`],
});

/** The pods' own containers (those with a container name; not the sandboxes). */
export const podContainers = (cluster: string, node: string) => ({
  label: [...ourContainers(cluster, node).label, LABEL.container],
});
