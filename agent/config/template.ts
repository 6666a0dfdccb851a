// The commented template `nokube new-or-update` writes when it is given no file.
// Keep it in step with the README's "Cluster config" table (a test checks that it validates).
export const CONFIG_TEMPLATE_FILE = 'cluster.yaml';

export const CONFIG_TEMPLATE = `# nokube cluster config. Every field is required unless marked "default".
# Validate and store it with:  nokube new-or-update cluster.yaml
# Edit it later in etcd with:  nokube config edit   (or config get/set/history)

# Cluster name: an RFC 1123 label. Keys in etcd live under /nokube/<cluster>/.
cluster: edge-demo

etcd:
  # Client URLs of the etcd cluster that holds this cluster's state.
  endpoints:
    - http://10.0.0.1:2379
  # dialTimeoutMs: 5000        # default 5000: how long etcd may take to answer (to connect, and each call)
  # tls: { ca: /etc/nokube/etcd-ca.pem, cert: /etc/nokube/etcd.pem, key: /etc/nokube/etcd-key.pem }
  #                             # for an etcd you run; an etcd.serve etcd takes the cluster's (tls.dir) instead

# agent:
#   port: 7947                  # default 7947: every agent's HTTP port (/metrics, /healthz), on its address

head:
  # HTTP API + WebSocket port on every node with the head role (bound to the node's address).
  port: 7480
  # fileServer: {}              # optional: read-only HTTP of <workspace>/public_file_server on port 8088
  # fileServer: { port: 8088, subpath: public_file_server }   # the defaults, spelt out

# tls:                          # optional: the cluster's certificates, made by  nokube tls init cluster.yaml
#   dir: /etc/nokube/pki        # on this machine; new-or-update gives each host its own files from it
#                               # (with etcd.serve, etcd is served over TLS with them: https endpoints)

mesh:
  # libp2p TCP port every agent listens on (bound to the node's address).
  port: 7946
  # bootstrap: []               # default []: extra multiaddrs to dial; nodes in etcd are dialled anyway
  # heartbeatMs: 1000           # default 1000: membership heartbeat period
  # suspectAfterMs: 3000        # default 3000: silence before a member is suspect
  # deadAfterMs: 6000           # default 6000: silence before a member is dead

# acl:                          # optional section; without it the head API checks no token
#   enabled: true               # every route and WebSocket needs a token (nokube acl bootstrap first)
# audit:                        # each head's audit log, <workspace>/head/audit.jsonl (ACL on or off)
#   maxSizeMB: 100              # default 100: rotated to audit.1.jsonl, audit.2.jsonl ... past this size
#   maxFiles: 5                 # default 5: rotated files kept (the oldest beyond is removed)
# secrets:                      # Secrets are always encrypted at rest (README "Secrets")
#   keyFile: /root/.nokube/keys/edge-demo.json   # default $NOKUBE_HOME/keys/<cluster>.json on the machine running up / new-or-update

# monitoring:                   # optional section; without it nothing is exported
#   metricsIntervalSeconds: 5   # node, container and actor metrics sampled and written this often
#   bufferMegabytes: 64         # default 64: per pipeline (metrics, logs), kept on disk while GreptimeDB is away
#   greptimedb:
#     address: 10.0.0.1
#     httpPort: 4000            # Prometheus remote write, PromQL and OTLP logs
#     db: public                # metrics database (created when missing; no "-": GreptimeDB reads catalog-db)
#     # logsDb: logs            # default logs (likewise)
#     # logsTable: nokube_logs  # default nokube_logs
#     # mysqlPort: 4002         # default 4002: Grafana's SQL datasource for logs
#     # container: { image: greptime/greptimedb:v1.1.4 }    # the head at this address runs it in Docker
#     # auth: { user: nokube, passwordFile: /etc/nokube/greptimedb.password }   # basic auth; the file on every node
#   grafana:
#     address: 10.0.0.1
#     port: 3000
#     # container: { image: grafana/grafana-oss:12.2.0 }   # the head at this address runs it in Docker
#     # adminPasswordFile: /etc/nokube/grafana-admin.password   # that container's admin password

network:                        # pods get their own IPs (absent: every default)
  # mode: pod                   # default pod; host: every pod on its node's network (no pod IPs, no Services data path)
  podCidr: 10.42.0.0/16         # default 10.42.0.0/16: pods' addresses; each node gets a /nodeMaskSize of it
  # nodeMaskSize: 24            # default 24: each node's pod subnet (254 pods)
  # serviceCidr: 10.43.0.0/16   # default 10.43.0.0/16: Services' ClusterIPs (must not overlap podCidr)
  # nodePortRange: 30000-32767  # default 30000-32767
  # clusterDomain: cluster.local  # default cluster.local
  # backend: vxlan              # default vxlan: routes between nodes (host-gw | vxlan)
  # sandboxImage: nokube/pause:1   # default, built in (no registry): the container holding each pod's network namespace
  # resolvConf: /etc/resolv.conf   # default: the hosts' resolvers (the node resolver forwards other names there)

# scheduler:                    # how pods are placed (absent: every default)
#   algorithm: spread           # default spread (most free first); binpack: fill nodes, keep big holes whole
#   namespaces: { batch: { algorithm: binpack } }   # default {}: a namespace's own algorithm

# Pools (seed 003) are a label and a taint: pods reach a pool's nodes with a nodeSelector (or affinity)
# and a toleration; other pods keep off them.
nodes:
  - name: head-1                # RFC 1123 label, unique
    address: 10.0.0.1           # address the agent binds and others reach it at, unique
    roles: [head, worker]       # head: serves the API; worker: runs workloads
    labels: { zone: a }         # default {}
    workspace: /var/lib/nokube  # absolute path for the agent's data
    # ssh: { user: root, port: 22, key: /root/.ssh/id_ed25519, knownHosts: /root/.ssh/known_hosts, installDir: /opt/nokube }   # for remote deploy
  - name: edge-1
    address: 10.0.0.2
    roles: [worker]
    labels: { zone: b, pool: warm }
    # reserved: { cpu: 500m, memory: 512Mi }   # default none: kept from pods (allocatable = capacity - reserved)
    # maxPods: 110                             # default 110
    taints: [{ key: pool, value: warm, effect: PreferNoSchedule }]   # default []: warm pool, others go elsewhere first
    workspace: /var/lib/nokube
  # - name: batch-1             # a batch pool node: only pods that tolerate pool=batch run here
  #   address: 10.0.0.3
  #   roles: [worker]
  #   labels: { pool: batch }
  #   taints: [{ key: pool, value: batch, effect: NoSchedule }]
  #   workspace: /var/lib/nokube
  # - name: gpu-1               # special: its pods are evicted when it is tainted NoExecute (maintenance)
  #   address: 10.0.0.4
  #   roles: [worker]
  #   labels: { pool: special }
  #   taints: [{ key: pool, value: special, effect: NoSchedule }]
  #   workspace: /var/lib/nokube
`;
