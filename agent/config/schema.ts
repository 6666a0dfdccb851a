// The cluster config: one YAML document, stored in etcd, read by every agent.
// Every field is required unless it is listed in DOCUMENTED_DEFAULTS (defaults.ts; README "Cluster config").
import { z } from 'zod';
import { cidrsOverlap, parseCidr, subnetCount } from '../net/cidr.ts';
import { parseQuantity } from '../objects/quantity.ts';
import { DOCUMENTED_DEFAULTS } from './defaults.ts';

/** RFC 1123 DNS label: lower-case alphanumerics and '-', starts and ends alphanumeric, at most 63. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const dnsLabel = z
  .string()
  .regex(DNS_LABEL, 'must be an RFC 1123 label (a-z, 0-9, "-", at most 63 characters)');

/** Kubernetes label key (optional DNS prefix + name) and value. */
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
export const labels = z.record(
  z.string().regex(LABEL_KEY, 'label key must be [prefix/]name with alphanumerics, "-", "_", "."'),
  z.string().regex(LABEL_VALUE, 'label value must be at most 63 alphanumerics, "-", "_", "."'),
);

const port = z.number().int().min(1).max(65535);
/** An OpenSSH public key as in known_hosts or a .pub file: type and base64 blob (a comment may follow). */
const SSH_PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}( .*)?$/;
const host = z.string().min(1, 'must not be empty');
const absolutePath = z.string().startsWith('/', 'must be an absolute path');
const positiveMs = z.number().int().positive();

/** A path below a directory: relative, no `..` segment. */
const subpath = z
  .string()
  .min(1)
  .regex(/^(?!\/)(?!.*(^|\/)\.\.(\/|$)).+$/, 'must be a relative path without ".." segments');
/** A Docker image reference (name[:tag][@digest]); the head pulls it when missing. */
const image = z.string().regex(/^[a-z0-9][a-z0-9._/:@-]*$/, 'must be a Docker image reference');
/** Run this service as a Docker container on the head node whose address is the service's address. */
const serviceContainer = z.strictObject({ image }).optional();
/** SQL identifier (GreptimeDB table name). */
const sqlName = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL name ([a-z_][a-z0-9_]*)');

/**
 * A GreptimeDB database name: what its CREATE DATABASE accepts (`NAME_PATTERN`, GreptimeDB's
 * src/common/base/src/regex_pattern.rs: `[a-zA-Z_:-][a-zA-Z0-9_:\-\.@#]*`) without `-`, which the `db`
 * parameter and the `X-Greptime-DB-Name` header read as `<catalog>-<database>`
 * (src/common/catalog/src/lib.rs `parse_catalog_and_schema_from_db_string`); and not one of its own
 * read-only databases, which CREATE DATABASE IF NOT EXISTS accepts without creating anything.
 */
const GREPTIME_DATABASE = /^[a-zA-Z_:][a-zA-Z0-9_:.@#]*$/;
const GREPTIME_RESERVED = new Set(['information_schema', 'pg_catalog']);
const greptimeDatabase = z.string().superRefine((name, ctx) => {
  const problem = name.includes('-')
    ? `"${name}" has a "-", which GreptimeDB reads as <catalog>-<database>: use "_" instead`
    : !GREPTIME_DATABASE.test(name)
      ? 'must be a GreptimeDB database name: a letter, "_" or ":" first, then letters, digits, "_", ":", ".", "@", "#"'
      : GREPTIME_RESERVED.has(name)
        ? `"${name}" is GreptimeDB's own read-only database`
        : undefined;
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** An IPv4 block `a.b.c.d/p` without host bits (agent/net/cidr.ts says what is wrong). */
const cidr = z.string().superRefine((text, ctx) => {
  try {
    parseCidr(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});
/** `a-b`, 1 <= a <= b <= 65535. */
const portRange = z.string().superRefine((text, ctx) => {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text);
  const [a, b] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (!m || a < 1 || b > 65535 || a > b)
    ctx.addIssue({ code: 'custom', message: `"${text}" must be a port range a-b with 1 <= a <= b <= 65535` });
});
const DNS_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

/** Pod network and Services (README "Pod network"): each pod its own IP from a per-node subnet of podCidr,
 * unless `mode: host` (every pod on its node's network). Absent: every default (a pod network). */
const network = z.strictObject({
  mode: z.enum(['pod', 'host']).default(DOCUMENTED_DEFAULTS['network.mode']),
  podCidr: cidr.default(DOCUMENTED_DEFAULTS['network.podCidr']),
  nodeMaskSize: z.number().int().max(30).default(DOCUMENTED_DEFAULTS['network.nodeMaskSize']),
  serviceCidr: cidr.default(DOCUMENTED_DEFAULTS['network.serviceCidr']),
  nodePortRange: portRange.default(DOCUMENTED_DEFAULTS['network.nodePortRange']),
  clusterDomain: z
    .string()
    .max(253)
    .regex(DNS_NAME, 'must be a DNS name (RFC 1123 labels separated by ".")')
    .default(DOCUMENTED_DEFAULTS['network.clusterDomain']),
  backend: z.enum(['host-gw', 'vxlan']).default(DOCUMENTED_DEFAULTS['network.backend']),
  sandboxImage: image.default(DOCUMENTED_DEFAULTS['network.sandboxImage']),
  /** The hosts' resolver configuration (kubelet's --resolv-conf): the node resolver's upstreams, and
   * what pods with dnsPolicy Default get (agent/dns). */
  resolvConf: absolutePath.default(DOCUMENTED_DEFAULTS['network.resolvConf']),
});
export type NetworkConfig = z.output<typeof network>;

/** A k8s quantity ("500m", "2", "512Mi"), not negative. */
const quantity = z.string().superRefine((text, ctx) => {
  try {
    parseQuantity(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `"${text}": ${(err as Error).message}` });
  }
});
const algorithm = z.enum(['spread', 'binpack']);
/** Placement (agent/scheduler): how nodes are ranked by free resources, for the cluster and per namespace. */
/** Images between nodes (agent/images/peers): one fetch over the uplink per site, the rest from peers. */
const images = z.strictObject({
  peers: z.boolean().default(DOCUMENTED_DEFAULTS['images.peers']),
  siteLabel: z.string().min(1).default(DOCUMENTED_DEFAULTS['images.siteLabel']),
});

const scheduler = z.strictObject({
  algorithm: algorithm.default(DOCUMENTED_DEFAULTS['scheduler.algorithm']),
  namespaces: z.record(dnsLabel, z.strictObject({ algorithm })).default({}),
});
/** A node's taint (k8s): pods that do not tolerate it keep off (NoSchedule), are evicted (NoExecute), or go
 * elsewhere when they can (PreferNoSchedule). */
const taint = z.strictObject({
  key: z.string().regex(LABEL_KEY, 'taint key must be [prefix/]name with alphanumerics, "-", "_", "."'),
  value: z
    .string()
    .regex(LABEL_VALUE, 'taint value must be at most 63 alphanumerics, "-", "_", "."')
    .optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
});

const tlsFiles = z.strictObject({ ca: absolutePath, cert: absolutePath, key: absolutePath });

export const clusterConfigSchema = z.strictObject({
  cluster: dnsLabel,
  etcd: z.strictObject({
    endpoints: z.array(z.url({ protocol: /^https?$/ })).min(1, 'needs at least one endpoint'),
    dialTimeoutMs: positiveMs.default(DOCUMENTED_DEFAULTS['etcd.dialTimeoutMs']),
    tls: tlsFiles.optional(),
    /** new-or-update runs etcd on these nodes (over SSH, with the host's own etcd binary). */
    serve: z
      .strictObject({
        nodes: z.array(dnsLabel).min(1, 'needs at least one node'),
        clientPort: port,
        peerPort: port,
        binary: absolutePath,
      })
      .optional(),
  }),
  agent: z
    .strictObject({ port: port.default(DOCUMENTED_DEFAULTS['agent.port']) })
    .default({ port: DOCUMENTED_DEFAULTS['agent.port'] }),
  head: z.strictObject({
    port,
    fileServer: z
      .strictObject({
        port: port.default(DOCUMENTED_DEFAULTS['head.fileServer.port']),
        subpath: subpath.default(DOCUMENTED_DEFAULTS['head.fileServer.subpath']),
      })
      .optional(),
  }),
  /** The cluster's certificates (`nokube tls init`): the directory on the machine that runs new-or-update
   * or up; each host gets its own files from it (agent/tls/layout.ts). */
  tls: z.strictObject({ dir: absolutePath }).optional(),
  mesh: z.strictObject({
    port,
    bootstrap: z
      .array(
        z
          .string()
          .regex(/^(\/\S+|[^/\s]+:\d+)$/, 'must be a multiaddr (/ip4/10.0.0.1/tcp/7946) or host:port'),
      )
      .default([]),
    heartbeatMs: positiveMs.default(DOCUMENTED_DEFAULTS['mesh.heartbeatMs']),
    suspectAfterMs: positiveMs.default(DOCUMENTED_DEFAULTS['mesh.suspectAfterMs']),
    deadAfterMs: positiveMs.default(DOCUMENTED_DEFAULTS['mesh.deadAfterMs']),
    privateNetworkKeyFile: absolutePath.optional(),
  }),
  /** Access control on the head API (head/acl): off when absent. */
  acl: z.strictObject({ enabled: z.boolean() }).optional(),
  /** The heads' audit log (head/audit): rotated by size, a bounded number of rotated files kept. */
  audit: z
    .strictObject({
      maxSizeMB: z.number().positive().default(DOCUMENTED_DEFAULTS['audit.maxSizeMB']),
      maxFiles: z.number().int().min(1).default(DOCUMENTED_DEFAULTS['audit.maxFiles']),
    })
    .default({
      maxSizeMB: DOCUMENTED_DEFAULTS['audit.maxSizeMB'],
      maxFiles: DOCUMENTED_DEFAULTS['audit.maxFiles'],
    }),
  /** Secrets encrypted at rest (always): where the keyring is on the machine running up / new-or-update. */
  secrets: z.strictObject({ keyFile: absolutePath.optional() }).optional(),
  monitoring: z
    .strictObject({
      metricsIntervalSeconds: z.number().min(1, 'must be at least 1'),
      bufferMegabytes: z.number().int().positive().default(DOCUMENTED_DEFAULTS['monitoring.bufferMegabytes']),
      greptimedb: z.strictObject({
        address: host,
        httpPort: port,
        db: greptimeDatabase,
        logsDb: greptimeDatabase.default(DOCUMENTED_DEFAULTS['monitoring.greptimedb.logsDb']),
        logsTable: sqlName.default(DOCUMENTED_DEFAULTS['monitoring.greptimedb.logsTable']),
        mysqlPort: port.default(DOCUMENTED_DEFAULTS['monitoring.greptimedb.mysqlPort']),
        container: serviceContainer,
        /** HTTP basic auth for everything sent to GreptimeDB and for Grafana's datasources: the password is
         * in a file on every node (never in the config, so never in etcd or `get config`). */
        auth: z
          .strictObject({
            user: z
              .string()
              .min(1)
              .regex(/^[^:\s]+$/, 'must be a user name without ":" or spaces (HTTP basic auth)'),
            passwordFile: absolutePath,
          })
          .optional(),
      }),
      grafana: z.strictObject({
        address: host,
        port,
        container: serviceContainer,
        /** The admin password of the Grafana container the head runs, from this file on that head. */
        adminPasswordFile: absolutePath.optional(),
      }),
    })
    .optional(),
  /** Pod Security "baseline" for requests that are not an ops-admin's (head/admission/pod-security.ts). */
  admission: z
    .strictObject({
      /** Per namespace, the host paths its pods may mount (hostPath volumes), by prefix. */
      hostPathPrefixes: z.record(dnsLabel, z.array(absolutePath)),
    })
    .optional(),
  network: network.prefault({}),
  scheduler: scheduler.prefault({}),
  images: images.prefault({}),
  nodes: z
    .array(
      z.strictObject({
        name: dnsLabel,
        address: host,
        roles: z.array(z.enum(['head', 'worker'])).min(1, 'needs at least one role (head, worker)'),
        labels: labels.default({}),
        /** Kept from pods (k8s system-reserved + kube-reserved): allocatable = capacity less this. */
        reserved: z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() }).optional(),
        maxPods: z.number().int().min(1).default(DOCUMENTED_DEFAULTS['nodes[].maxPods']),
        /** Bytes per second images to and from peers may take on this node (a quantity: "5Mi"); none: no cap. */
        imageBandwidth: quantity.optional(),
        /** The kubelet's image garbage collection (agent/images/image-gc.ts). */
        imageGC: z
          .strictObject({
            highThresholdPercent: z
              .number()
              .int()
              .min(0)
              .max(100)
              .default(DOCUMENTED_DEFAULTS['nodes[].imageGC.highThresholdPercent']),
            lowThresholdPercent: z
              .number()
              .int()
              .min(0)
              .max(100)
              .default(DOCUMENTED_DEFAULTS['nodes[].imageGC.lowThresholdPercent']),
            minAgeSeconds: z
              .number()
              .int()
              .min(0)
              .default(DOCUMENTED_DEFAULTS['nodes[].imageGC.minAgeSeconds']),
          })
          .refine((g) => g.lowThresholdPercent < g.highThresholdPercent, {
            message: 'lowThresholdPercent must be less than highThresholdPercent',
            path: ['lowThresholdPercent'],
          })
          .prefault({}),
        taints: z
          .array(taint)
          .default([])
          .superRefine((ts, ctx) => {
            const seen = new Set<string>();
            ts.forEach((t, i) => {
              const id = `${t.key}:${t.effect}`;
              if (seen.has(id))
                ctx.addIssue({
                  code: 'custom',
                  path: [i],
                  message: `taint ${t.key} with effect ${t.effect} is listed twice`,
                });
              seen.add(id);
            });
          }),
        workspace: absolutePath,
        /** The Docker engine's socket on the host; absent: DOCKER_HOST, else /var/run/docker.sock. */
        dockerSocket: absolutePath.optional(),
        ssh: z
          .strictObject({
            user: z.string().min(1),
            port,
            key: absolutePath.optional(),
            knownHosts: absolutePath.optional(),
            hostKey: z
              .string()
              .regex(SSH_PUBLIC_KEY, 'must be an OpenSSH public key line ("ssh-ed25519 AAAA...")')
              .optional(),
            installDir: absolutePath,
            /** How the deploy runs the agent there (agent/op/service-*.ts). */
            service: z
              .enum(['process', 'docker', 'systemd'])
              .default(DOCUMENTED_DEFAULTS['nodes[].ssh.service']),
          })
          .optional(),
      }),
    )
    .min(1, 'needs at least one node'),
});

export type ClusterConfig = z.output<typeof clusterConfigSchema>;
export type NodeConfig = ClusterConfig['nodes'][number];
export type Role = NodeConfig['roles'][number];

/** Rules across fields that a per-field schema cannot state. Returns [path, message] pairs. */
export function crossFieldProblems(cfg: ClusterConfig): Array<[Array<string | number>, string]> {
  const problems: Array<[Array<string | number>, string]> = [];
  const byName = new Map<string, number>();
  const byAddress = new Map<string, number>();
  cfg.nodes.forEach((node, i) => {
    const sameName = byName.get(node.name);
    if (sameName !== undefined) {
      problems.push([['nodes', i, 'name'], `node "${node.name}" is listed twice (also nodes[${sameName}])`]);
    } else byName.set(node.name, i);
    const sameAddress = byAddress.get(node.address);
    if (sameAddress !== undefined) {
      problems.push([
        ['nodes', i, 'address'],
        `address ${node.address} is also nodes[${sameAddress}].address (each node needs its own address)`,
      ]);
    } else byAddress.set(node.address, i);
    if (new Set(node.roles).size !== node.roles.length)
      problems.push([['nodes', i, 'roles'], 'a role is listed twice']);
    // A host key is never trusted on first sight: it comes from a known_hosts file or is pinned here.
    if (node.ssh && (node.ssh.knownHosts === undefined) === (node.ssh.hostKey === undefined))
      problems.push([
        ['nodes', i, 'ssh'],
        'needs exactly one of knownHosts (a file) or hostKey (the pinned key)',
      ]);
  });
  if (!cfg.nodes.some((n) => n.roles.includes('head'))) {
    problems.push([['nodes'], 'no node has the head role (at least one is needed)']);
  }
  if (cfg.mesh.suspectAfterMs <= cfg.mesh.heartbeatMs) {
    problems.push([['mesh', 'suspectAfterMs'], 'must be greater than mesh.heartbeatMs']);
  }
  if (cfg.mesh.deadAfterMs <= cfg.mesh.suspectAfterMs) {
    problems.push([['mesh', 'deadAfterMs'], 'must be greater than mesh.suspectAfterMs']);
  }
  if (cfg.mesh.port === cfg.head.port) problems.push([['head', 'port'], 'must differ from mesh.port']);
  const ports: Array<[Array<string | number>, number]> = [
    [['mesh', 'port'], cfg.mesh.port],
    [['head', 'port'], cfg.head.port],
  ];
  if (cfg.head.fileServer) ports.push([['head', 'fileServer', 'port'], cfg.head.fileServer.port]);
  for (const [path, p] of ports) {
    if (p === cfg.agent.port) problems.push([['agent', 'port'], `must differ from ${path.join('.')}`]);
  }
  problems.push(...etcdServeProblems(cfg));
  problems.push(...networkProblems(cfg));
  const heads = new Set(cfg.nodes.filter((n) => n.roles.includes('head')).map((n) => n.address));
  const mon = cfg.monitoring;
  for (const [name, svc] of [
    ['greptimedb', mon?.greptimedb],
    ['grafana', mon?.grafana],
  ] as const) {
    if (svc?.container && !heads.has(svc.address)) {
      problems.push([
        ['monitoring', name, 'container'],
        `the head starts it on the head node at monitoring.${name}.address (${svc.address}), but no head node has that address`,
      ]);
    }
  }
  if (mon?.grafana.adminPasswordFile && !mon.grafana.container)
    problems.push([
      ['monitoring', 'grafana', 'adminPasswordFile'],
      'sets the admin password of the Grafana container the head runs: needs monitoring.grafana.container',
    ]);
  return problems;
}

/** The cluster's pod network; undefined with `network.mode: host` (every pod on its node's network). */
export const podNetworkOf = (cfg: ClusterConfig): NetworkConfig | undefined =>
  cfg.network.mode === 'pod' ? cfg.network : undefined;

/** network: the pod and service blocks apart, one node subnet for each node in nodes[] (a pod network). */
function networkProblems(cfg: ClusterConfig): Array<[Array<string | number>, string]> {
  const net = podNetworkOf(cfg);
  if (!net) return [];
  const problems: Array<[Array<string | number>, string]> = [];
  const pods = parseCidr(net.podCidr);
  if (cidrsOverlap(net.podCidr, net.serviceCidr))
    problems.push([['network', 'serviceCidr'], `overlaps network.podCidr ${net.podCidr}`]);
  if (net.nodeMaskSize < pods.prefix)
    problems.push([
      ['network', 'nodeMaskSize'],
      `must be >= the prefix of network.podCidr (${pods.prefix}): a node subnet is part of it`,
    ]);
  else if (subnetCount(pods, net.nodeMaskSize) < cfg.nodes.length)
    problems.push([
      ['network', 'podCidr'],
      `${net.podCidr} holds ${subnetCount(pods, net.nodeMaskSize)} node subnets of /${net.nodeMaskSize}, nodes[] has ${cfg.nodes.length} nodes`,
    ]);
  return problems;
}

/** etcd.serve: its nodes are head nodes with ssh, an odd number (quorum), and etcd.endpoints are exactly
 * their client URLs (clients and agents use the endpoints; the deploy starts the members): https with the
 * cluster's certificates (tls), else http. */
function etcdServeProblems(cfg: ClusterConfig): Array<[Array<string | number>, string]> {
  const serve = cfg.etcd.serve;
  if (!serve) return [];
  const problems: Array<[Array<string | number>, string]> = [];
  // A served etcd takes its certificates from the cluster's (tls.dir: each member its node's), never from
  // etcd.tls, which is the operator's own client certificate for an etcd run by the operator.
  if (cfg.etcd.tls)
    problems.push([
      ['etcd', 'tls'],
      cfg.tls
        ? "not used with etcd.serve: the served etcd and its clients use the cluster's certificates (tls.dir); drop etcd.tls"
        : "etcd.serve runs etcd with TLS from the cluster's certificates, not etcd.tls: set tls.dir (nokube tls init <cluster.yaml> makes them) and drop etcd.tls, or run etcd yourself (without etcd.serve)",
    ]);
  serve.nodes.forEach((name, i) => {
    const node = cfg.nodes.find((n) => n.name === name);
    if (!node) problems.push([['etcd', 'serve', 'nodes', i], `no node named "${name}" in nodes`]);
    else if (!node.roles.includes('head') || !node.ssh)
      problems.push([['etcd', 'serve', 'nodes', i], `node "${name}" needs the head role and an ssh section`]);
  });
  if (new Set(serve.nodes).size !== serve.nodes.length)
    problems.push([['etcd', 'serve', 'nodes'], 'a node is listed twice']);
  if (serve.nodes.length % 2 === 0)
    problems.push([
      ['etcd', 'serve', 'nodes'],
      `${serve.nodes.length} members: an odd number is needed (1, 3, 5)`,
    ]);
  if (serve.clientPort === serve.peerPort)
    problems.push([['etcd', 'serve', 'peerPort'], 'must differ from etcd.serve.clientPort']);
  const want = serve.nodes
    .map((name) => cfg.nodes.find((n) => n.name === name))
    .filter((n) => n !== undefined)
    .map((n) => `${cfg.tls ? 'https' : 'http'}://${n.address}:${serve.clientPort}`);
  const have = cfg.etcd.endpoints.map((u) => u.replace(/\/+$/, ''));
  if (want.length === serve.nodes.length && [...want].sort().join() !== [...have].sort().join())
    problems.push([
      ['etcd', 'endpoints'],
      `must be the served members' client URLs: ${want.join(', ')}${cfg.tls ? ' (with tls, etcd is served over https)' : ''}`,
    ]);
  return problems;
}
