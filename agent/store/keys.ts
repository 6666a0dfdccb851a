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
  /** What a node's agent reports about its images (agent/images): JSON {images, pulls}. */
  nodeStatusPrefix: (cluster: string) => `${ROOT}/${cluster}/node-status/`,
  nodeStatus: (cluster: string, node: string) => `${ROOT}/${cluster}/node-status/${node}`,
  /** Drained nodes (JSON {since, by}; no lease): no new pods, their pods move away (a deploy that
   * removes a node sets it, then stops the agent and deletes the key). */
  drainPrefix: (cluster: string) => `${ROOT}/${cluster}/drain/`,
  drain: (cluster: string, node: string) => `${ROOT}/${cluster}/drain/${node}`,
  /** Cordoned nodes (`nokube cordon`, JSON {since, by}): no new pods unless they tolerate it (k8s
   * node.spec.unschedulable); pods already there stay. */
  cordonPrefix: (cluster: string) => `${ROOT}/${cluster}/cordon/`,
  cordon: (cluster: string, node: string) => `${ROOT}/${cluster}/cordon/${node}`,

  // ---- workloads (k8s-shaped objects; <resource> is the plural: pods, deployments, ...) ----
  /** Objects users applied (and pods controllers made), JSON without status:
   * namespaced `objects/<resource>/<namespace>/<name>`, Namespace `objects/namespaces/<name>`. */
  objectsPrefix: (cluster: string) => `${ROOT}/${cluster}/objects/`,
  objectResourcePrefix: (cluster: string, resource: string) => `${ROOT}/${cluster}/objects/${resource}/`,
  objectNamespacePrefix: (cluster: string, resource: string, namespace: string) =>
    `${ROOT}/${cluster}/objects/${resource}/${namespace}/`,
  object: (cluster: string, resource: string, namespace: string | undefined, name: string) =>
    namespace === undefined
      ? `${ROOT}/${cluster}/objects/${resource}/${name}`
      : `${ROOT}/${cluster}/objects/${resource}/${namespace}/${name}`,
  /** Status of an object, written by whoever observes it (pods: the node's agent; others: their
   * controller), apart from the object so status writes never conflict with applies. */
  statusPrefix: (cluster: string) => `${ROOT}/${cluster}/status/`,
  status: (cluster: string, resource: string, namespace: string | undefined, name: string) =>
    namespace === undefined
      ? `${ROOT}/${cluster}/status/${resource}/${name}`
      : `${ROOT}/${cluster}/status/${resource}/${namespace}/${name}`,
  /** Alive records of actors, bound to the lease of the agent that runs them:
   * `alive/<namespace>/<ownership path>`, e.g. alive/default/deployment-web/pod-web-x1/container-web. */
  alivePrefix: (cluster: string) => `${ROOT}/${cluster}/alive/`,
  alive: (cluster: string, namespace: string, ownershipPath: string) =>
    `${ROOT}/${cluster}/alive/${namespace}/${ownershipPath}`,
  /** Events (k8s Event shape), kept one hour: `events/<namespace>/<resource>/<name>/<time-seq>`. */
  eventsPrefix: (cluster: string) => `${ROOT}/${cluster}/events/`,
  eventsOf: (cluster: string, namespace: string, resource: string, name: string) =>
    `${ROOT}/${cluster}/events/${namespace}/${resource}/${name}/`,
  /** Image pre-pull requests of the controllers (agent/images): `image-pulls/<node>/<kind>/<namespace>/<name>`,
   * JSON {images: [{image, policy}], owner, uid, revision}; the node's agent pulls, and reports in its
   * node status (`node-status/<node>`). */
  /** Who fetches an image over a site's uplink now (agent/images/peers/fetcher.ts):
   * `image-sources/<site>/<sha256 of the image reference>`, JSON {node, image, since}, under the fetching
   * agent's claim lease. */
  imageSource: (cluster: string, site: string, hash: string) =>
    `${ROOT}/${cluster}/image-sources/${encodeURIComponent(site)}/${hash}`,
  imagePullsPrefix: (cluster: string) => `${ROOT}/${cluster}/image-pulls/`,
  imagePullsOf: (cluster: string, node: string) => `${ROOT}/${cluster}/image-pulls/${node}/`,
  imagePull: (cluster: string, node: string, owner: { kind: string; namespace: string; name: string }) =>
    `${ROOT}/${cluster}/image-pulls/${node}/${owner.kind}/${owner.namespace}/${owner.name}`,
  // ---- pod network (agent/podnet) ----
  /** Each node's pod subnet, JSON `{"cidr":"10.42.3.0/24"}`: claimed by the node's agent in one
   * transaction with its owner key, freed by the leading head once the node is gone from the config. */
  networkSubnetsPrefix: (cluster: string) => `${ROOT}/${cluster}/network/subnets/`,
  networkSubnet: (cluster: string, node: string) => `${ROOT}/${cluster}/network/subnets/${node}`,
  /** The node holding a pod subnet (`10.42.3.0-24` → node name): what makes two claims of one block
   * exclusive (a transaction compares keys, not ranges). */
  networkSubnetOwnersPrefix: (cluster: string) => `${ROOT}/${cluster}/network/subnet-owners/`,
  networkSubnetOwner: (cluster: string, cidr: string) =>
    `${ROOT}/${cluster}/network/subnet-owners/${cidr.replace('/', '-')}`,
  /** Each node's VXLAN endpoint, JSON `{"mac":"02:..."}` (network.backend vxlan, agent/routes): put by
   * the node's agent, deleted with its subnet by the leading head. */
  networkVtepsPrefix: (cluster: string) => `${ROOT}/${cluster}/network/vteps/`,
  networkVtep: (cluster: string, node: string) => `${ROOT}/${cluster}/network/vteps/${node}`,
  // ---- access control (head/acl) ----
  /** Policies, tokens and the bootstrap marker: one prefix (one range read covers the ACL). */
  aclPrefix: (cluster: string) => `${ROOT}/${cluster}/acl/`,
  /** JSON `{time, accessor}`: `nokube acl bootstrap` ran (created once, in its transaction). */
  aclBootstrap: (cluster: string) => `${ROOT}/${cluster}/acl/bootstrap`,
  aclPoliciesPrefix: (cluster: string) => `${ROOT}/${cluster}/acl/policies/`,
  aclPolicy: (cluster: string, name: string) => `${ROOT}/${cluster}/acl/policies/${name}`,
  /** Token records, JSON without the secret, keyed by the secret's SHA-256 (hex). */
  aclTokensPrefix: (cluster: string) => `${ROOT}/${cluster}/acl/tokens/`,
  aclToken: (cluster: string, secretHash: string) => `${ROOT}/${cluster}/acl/tokens/${secretHash}`,
  /** Client certificates the heads refuse, JSON `{serial, name?, reason, time}`, keyed by serial (hex). */
  aclDeniedCertificatesPrefix: (cluster: string) => `${ROOT}/${cluster}/acl/denied-certificates/`,
  aclDeniedCertificate: (cluster: string, serial: string) =>
    `${ROOT}/${cluster}/acl/denied-certificates/${serial}`,
  /** Leader election of the kubecontroller among heads (etcd3 Election under this prefix). */
  election: (cluster: string, name: string) => `${ROOT}/${cluster}/election/${name}`,
  // ---- Services (agent/services/allocate.ts): allocations made in the apply's own transaction ----
  /** A Service's virtual IP: `network/service-ips/<ip>` -> `<namespace>/<name>`. */
  serviceIpsPrefix: (cluster: string) => `${ROOT}/${cluster}/network/service-ips/`,
  serviceIp: (cluster: string, ip: string) => `${ROOT}/${cluster}/network/service-ips/${ip}`,
  /** A NodePort Service's port on every node: `network/node-ports/<port>` -> `<namespace>/<name>`. */
  nodePortsPrefix: (cluster: string) => `${ROOT}/${cluster}/network/node-ports/`,
  nodePort: (cluster: string, port: number) => `${ROOT}/${cluster}/network/node-ports/${port}`,
} as const;

/** The last path segment of a key: the node name of a node key, the version of a history key. */
export function keyLeaf(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}
