// kube-proxy's nftables mode, planned (pure): from the Services and their EndpointSlices to the text of
// one nftables table, `ip nokube_svc_<8 hex of cluster/node>`, that the node's agent loads with `nft -f`
// in one transaction (agent/services/proxy; nothing outside the table is touched). The table's comment
// holds a digest of its body: a restarted agent that wants the same rules leaves the table alone.
//
// - `services`: a verdict map ClusterIP . protocol . port -> the Service port's chain, and protocol .
//   NodePort -> its external chain (which returns unless the packet is to one of the node's own addresses
//   (fib daddr type local), then marks it for masquerade);
// - a Service port's chain: ClientIP affinity first (a dynamic set per endpoint, refreshed by the
//   endpoint's chain, timeout the Service's), then `numgen random mod N` over its endpoints;
// - an endpoint's chain: hairpin traffic (from the endpoint itself) marked for masquerade, then DNAT to
//   the pod's address and port;
// - Service ports without endpoints are rejected in the filter hooks (kube-proxy's
//   `no-endpoint-services` / `no-endpoint-nodeports`), as new connections only.
// Endpoints used: the ready ones; when none is ready, the serving ones that are terminating (kube-proxy's
// fallback); otherwise none.
import { createHash } from 'node:crypto';
import type { EndpointSlice, ObjectMeta, Protocol, Service } from '../../objects/types.ts';

/** The mark kube-proxy uses for "masquerade this packet" (bit 14). */
export const MASQUERADE_MARK = '0x4000';

/** What the plan reads of a Service and of an EndpointSlice (a Service or a slice will do). */
export interface ServiceInput {
  metadata: Pick<ObjectMeta, 'name' | 'namespace'>;
  spec: Service['spec'];
}
export interface SliceInput {
  metadata: Pick<ObjectMeta, 'name' | 'namespace' | 'labels'>;
  endpoints: EndpointSlice['endpoints'];
  ports: EndpointSlice['ports'];
}

export interface ServiceRulesInput {
  cluster: string;
  node: string;
  services: readonly ServiceInput[];
  slices: readonly SliceInput[];
  /** Traffic to a ClusterIP from outside this CIDR is masqueraded (kube-proxy's --cluster-cidr); absent:
   * none is (host-network pods). */
  podCidr?: string;
}

interface Backend {
  ip: string;
  port: number;
}

interface PortPlan {
  svc: ServiceInput;
  protocol: Protocol;
  port: number;
  nodePort?: number;
  portName: string;
  backends: Backend[];
}

/** The node's table: unique per cluster and node (test clusters share one network namespace). */
export const tableName = (cluster: string, node: string): string =>
  `nokube_svc_${createHash('sha256').update(`${cluster}/${node}`).digest('hex').slice(0, 8)}`;

/** A UDP Service port and the endpoint addresses it sends to (conntrack entries of an endpoint that
 * leaves are deleted: agent/services/proxy/conntrack.ts). */
export interface UdpTarget {
  clusterIP: string;
  port: number;
  nodePort?: number;
  endpoints: string[];
}

/** What an agent loads: the table's name, the digest of its body, the `nft -f` text; and its UDP ports. */
export interface PlannedTable {
  table: string;
  digest: string;
  text: string;
  udp: UdpTarget[];
}

/** kube-proxy's chain naming: a short hash for uniqueness, then what it is, readable. */
function chainName(kind: string, what: string): string {
  const hash = createHash('sha256')
    .update(what)
    .digest('base64url')
    .replace(/[-_]/g, '')
    .slice(0, 8)
    .toUpperCase();
  return `${kind}-${hash}-${what}`;
}

/** The endpoints a Service port sends to, per its slices (ready, else serving-and-terminating). */
function backendsOf(portName: string, protocol: Protocol, mine: readonly SliceInput[]) {
  const candidates = mine.flatMap((s) => {
    const port = s.ports.find((p) => (p.name ?? '') === portName && (p.protocol ?? 'TCP') === protocol)?.port;
    return port === undefined ? [] : s.endpoints.map((e) => ({ e, port }));
  });
  const ready = candidates.filter(({ e }) => e.conditions.ready !== false);
  const chosen =
    ready.length > 0
      ? ready
      : candidates.filter(({ e }) => e.conditions.serving === true && e.conditions.terminating === true);
  const seen = new Set<string>();
  const out: Backend[] = [];
  for (const { e, port } of chosen)
    for (const ip of e.addresses.slice(0, 1)) {
      const key = `${ip}:${port}`;
      if (!seen.has(key)) out.push({ ip, port });
      seen.add(key);
    }
  return out.sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1));
}

const sliceOwner = (ns: string | undefined, name: string | undefined) => `${ns ?? ''}/${name ?? ''}`;

function plansOf(input: ServiceRulesInput): PortPlan[] {
  const out: PortPlan[] = [];
  // Slices by their Service (one pass: 1,000 Services are not 1,000 scans of every slice).
  const slicesOf = new Map<string, SliceInput[]>();
  for (const s of input.slices) {
    const key = sliceOwner(s.metadata.namespace, s.metadata.labels?.['kubernetes.io/service-name']);
    slicesOf.set(key, [...(slicesOf.get(key) ?? []), s]);
  }
  const services = [...input.services].sort((a, b) =>
    `${a.metadata.namespace}/${a.metadata.name}` < `${b.metadata.namespace}/${b.metadata.name}` ? -1 : 1,
  );
  for (const svc of services) {
    const ip = svc.spec.clusterIP;
    if (!ip || ip === 'None') continue;
    for (const p of svc.spec.ports ?? []) {
      const protocol = p.protocol ?? 'TCP';
      const portName = p.name ?? '';
      out.push({
        svc,
        protocol,
        port: p.port,
        ...(svc.spec.type === 'NodePort' && p.nodePort ? { nodePort: p.nodePort } : {}),
        portName,
        backends: backendsOf(
          portName,
          protocol,
          slicesOf.get(sliceOwner(svc.metadata.namespace, svc.metadata.name)) ?? [],
        ),
      });
    }
  }
  return out;
}

const proto = (p: Protocol) => p.toLowerCase();
const id = (p: PortPlan) =>
  `${p.svc.metadata.namespace}/${p.svc.metadata.name}/${proto(p.protocol)}/${p.portName}`;

/** The whole table as `nft -f` text: created if missing, emptied and filled again in one transaction. */
export function planServiceRules(input: ServiceRulesInput): PlannedTable {
  const table = tableName(input.cluster, input.node);
  const plans = plansOf(input);
  const serviceIps: string[] = [];
  const nodePorts: string[] = [];
  const noEndpointIps: string[] = [];
  const noEndpointNodePorts: string[] = [];
  const chains: string[] = [];
  const sets: string[] = [];
  const udp: UdpTarget[] = [];
  for (const p of plans) {
    const ip = p.svc.spec.clusterIP!;
    const key = `${ip} . ${proto(p.protocol)} . ${p.port}`;
    if (p.protocol === 'UDP')
      udp.push({
        clusterIP: ip,
        port: p.port,
        ...(p.nodePort ? { nodePort: p.nodePort } : {}),
        endpoints: [...new Set(p.backends.map((b) => b.ip))],
      });
    if (p.backends.length === 0) {
      noEndpointIps.push(`${key} : goto reject-chain`);
      if (p.nodePort)
        noEndpointNodePorts.push(`${proto(p.protocol)} . ${p.nodePort} : goto nodeport-reject-chain`);
      continue;
    }
    const svcChain = chainName('service', id(p));
    serviceIps.push(`${key} : goto ${svcChain}`);
    const rules: string[] = [];
    if (input.podCidr)
      rules.push(
        `ip daddr ${ip} ${proto(p.protocol)} dport ${p.port} ip saddr != ${input.podCidr} jump mark-for-masquerade`,
      );
    const affinity =
      p.svc.spec.sessionAffinity === 'ClientIP'
        ? (p.svc.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10_800)
        : undefined;
    const endpointChains = p.backends.map((b) => chainName('endpoint', `${id(p)}__${b.ip}/${b.port}`));
    p.backends.forEach((b, i) => {
      const ep = endpointChains[i]!;
      const epRules = [`ip saddr ${b.ip} jump mark-for-masquerade`];
      if (affinity !== undefined) {
        const set = `affinity-${ep.slice('endpoint-'.length, 'endpoint-'.length + 8)}-${i}`;
        sets.push(
          `  set ${set} {\n    type ipv4_addr\n    flags dynamic,timeout\n    timeout ${affinity}s\n  }`,
        );
        rules.push(`ip saddr @${set} goto ${ep}`);
        epRules.push(`update @${set} { ip saddr }`);
      }
      epRules.push(`meta l4proto ${proto(p.protocol)} dnat to ${b.ip}:${b.port}`);
      chains.push(chain(ep, epRules));
    });
    rules.push(
      p.backends.length === 1
        ? `goto ${endpointChains[0]}`
        : `numgen random mod ${p.backends.length} vmap { ${endpointChains.map((c, i) => `${i} : goto ${c}`).join(', ')} }`,
    );
    chains.push(chain(svcChain, rules));
    if (p.nodePort) {
      const external = chainName('external', id(p));
      nodePorts.push(`${proto(p.protocol)} . ${p.nodePort} : goto ${external}`);
      chains.push(chain(external, [...NODE_ADDRESS_ONLY, 'jump mark-for-masquerade', `goto ${svcChain}`]));
    }
  }
  const map = (name: string, type: string, elements: string[]) =>
    `  map ${name} {\n    type ${type} : verdict\n${elements.length ? `    elements = { ${elements.join(',\n                 ')} }\n` : ''}  }`;
  const base = (name: string, hook: string, rules: string[]) => chain(name, [hook, ...rules]);
  const body = [
    map('service-ips', 'ipv4_addr . inet_proto . inet_service', serviceIps),
    map('service-nodeports', 'inet_proto . inet_service', nodePorts),
    map('no-endpoint-services', 'ipv4_addr . inet_proto . inet_service', noEndpointIps),
    map('no-endpoint-nodeports', 'inet_proto . inet_service', noEndpointNodePorts),
    ...sets,
    base('nat-prerouting', 'type nat hook prerouting priority dstnat; policy accept;', ['jump services']),
    base('nat-output', 'type nat hook output priority -100; policy accept;', ['jump services']),
    base('nat-postrouting', 'type nat hook postrouting priority srcnat; policy accept;', [
      'jump masquerading',
    ]),
    base('filter-input', 'type filter hook input priority -110; policy accept;', [
      'ct state new jump service-endpoints-check',
    ]),
    base('filter-forward', 'type filter hook forward priority -110; policy accept;', [
      'ct state new jump service-endpoints-check',
    ]),
    base('filter-output', 'type filter hook output priority -110; policy accept;', [
      'ct state new jump service-endpoints-check',
    ]),
    chain('service-endpoints-check', [
      'ip daddr . meta l4proto . th dport vmap @no-endpoint-services',
      'meta l4proto . th dport vmap @no-endpoint-nodeports',
    ]),
    chain('services', [
      'ip daddr . meta l4proto . th dport vmap @service-ips',
      'meta l4proto . th dport vmap @service-nodeports',
    ]),
    chain('mark-for-masquerade', [`mark set mark or ${MASQUERADE_MARK}`]),
    chain('masquerading', [
      `mark and ${MASQUERADE_MARK} == 0 return`,
      `mark set mark xor ${MASQUERADE_MARK}`,
      'masquerade fully-random',
    ]),
    chain('reject-chain', ['reject']),
    chain('nodeport-reject-chain', [...NODE_ADDRESS_ONLY, 'reject']),
    ...chains,
  ];
  const text = body.join('\n');
  const digest = createHash('sha256').update(text).digest('hex').slice(0, 16);
  // `add table` makes it exist, `delete table` then empties it: the new table replaces the old in the
  // same transaction (conntrack keeps established connections' NAT).
  return {
    table,
    digest,
    udp,
    text: `add table ip ${table}\ndelete table ip ${table}\ntable ip ${table} {\n  comment "${COMMENT} ${digest}"\n${text}\n}\n`,
  };
}

/** A NodePort is on the node's own addresses but loopback's: the first rules of its chains, after the
 * port's lookup in a map (a hash lookup that nearly every packet misses comes before the FIB lookup
 * `fib daddr type local` costs; the order kube-proxy's rules have is the other way round). */
const NODE_ADDRESS_ONLY = ['fib daddr type != local return', 'ip daddr 127.0.0.0/8 return'];

/** The table comment's words before the digest. */
export const COMMENT = 'nokube services';

function chain(name: string, rules: string[]): string {
  return `  chain ${name} {\n${rules.map((r) => `    ${r}`).join('\n')}\n  }`;
}
