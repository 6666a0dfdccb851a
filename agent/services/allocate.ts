// ClusterIPs and NodePorts, allocated inside the apply's own etcd transaction: a key per address
// (`network/service-ips/<ip>`) and per port (`network/node-ports/<port>`) naming its Service
// (`<namespace>/<name>`), claimed with a compare that the key is absent, so two applies never get the
// same one; freed in the transaction that deletes the Service (or its namespace). An update keeps what
// the Service holds. Free values are picked at random with a forward scan, as k8s' allocator does.
import type { Etcd3 } from 'etcd3';
import { cidrContains, formatIp, parseIp } from '../net/cidr.ts';
import type { Service, ServicePort } from '../objects/types.ts';
import { keys } from '../store/keys.ts';
import { type ServiceRanges, usableIndexes } from './ranges.ts';

/** `<namespace>/<name>`: the value of a Service's allocation keys. */
export const holderOf = (svc: Service): string => `${svc.metadata.namespace}/${svc.metadata.name}`;

const needsNodePorts = (svc: Service) => svc.spec.type === 'NodePort';
const virtualIp = (svc: Service) =>
  svc.spec.clusterIP !== undefined && svc.spec.clusterIP !== 'None' ? svc.spec.clusterIP : undefined;

/** The allocation keys a stored Service holds. */
export function heldKeys(cluster: string, svc: Service): string[] {
  const out: string[] = [];
  const ip = virtualIp(svc);
  if (ip) out.push(keys.serviceIp(cluster, ip));
  if (needsNodePorts(svc))
    for (const p of svc.spec.ports ?? [])
      if (p.nodePort !== undefined) out.push(keys.nodePort(cluster, p.nodePort));
  return [...new Set(out)];
}

/** One Service of an apply: what it will be (allocated fields filled in here), what it was. */
export interface ServiceChange {
  desired: Service;
  old?: Service;
  /** Prefix of its messages: `<file>: document <n>: services "web" in namespace default`. */
  where: string;
}

export interface AllocationPlan {
  /** Keys to create (each compared absent in the transaction). */
  claims: Array<{ key: string; value: string }>;
  /** Keys to delete, with the mod revision read (compared in the transaction). */
  frees: Array<{ key: string; mod: number }>;
  problems: string[];
}

interface Held {
  holder: string;
  mod: number;
}

async function heldUnder(etcd: Etcd3, prefix: string): Promise<Map<string, Held>> {
  const res = await etcd.getAll().prefix(prefix).exec();
  return new Map(
    res.kvs.map((kv) => [
      kv.key.toString('utf8').slice(prefix.length),
      { holder: kv.value.toString('utf8'), mod: Number(kv.mod_revision) },
    ]),
  );
}

/** Random start, then the first free value scanning forward (wrapping): k8s' random-scan strategy. */
function pickFree(count: number, valueAt: (i: number) => string, taken: (v: string) => boolean) {
  const start = Math.floor(Math.random() * count);
  for (let i = 0; i < count; i++) {
    const v = valueAt((start + i) % count);
    if (!taken(v)) return v;
  }
  return undefined;
}

/** Fill in each Service's ClusterIP and NodePorts and say which keys the apply claims and frees; every
 * problem (outside the range, held by another Service, range full) names the field and the holder. */
export async function planAllocations(
  etcd: Etcd3,
  cluster: string,
  ranges: ServiceRanges,
  changes: ServiceChange[],
): Promise<AllocationPlan> {
  const plan: AllocationPlan = { claims: [], frees: [], problems: [] };
  if (changes.length === 0) return plan;
  const [ips, ports] = await Promise.all([
    heldUnder(etcd, keys.serviceIpsPrefix(cluster)),
    heldUnder(etcd, keys.nodePortsPrefix(cluster)),
  ]);
  const claimedIps = new Set<string>();
  const claimedPorts = new Set<string>();
  const byOther = (m: Map<string, Held>, v: string, holder: string) => {
    const h = m.get(v);
    return h && h.holder !== holder ? h.holder : undefined;
  };
  for (const { desired, old, where } of changes) {
    const holder = holderOf(desired);
    const problem = (field: string, message: string) => plan.problems.push(`${where}: ${field}: ${message}`);
    const claimIp = (ip: string) => {
      claimedIps.add(ip);
      if (ips.get(ip)?.holder !== holder)
        plan.claims.push({ key: keys.serviceIp(cluster, ip), value: holder });
    };
    // ClusterIP: immutable once set (apply.ts refuses a change), so only a new Service takes one.
    const ip = desired.spec.clusterIP;
    // An ExternalName Service is a DNS alias: no address (nor NodePort) of its own.
    if (desired.spec.type === 'ExternalName') continue;
    if (ip === undefined) {
      const { first, count } = usableIndexes(ranges.serviceCidr);
      const free = pickFree(
        count,
        (i) => formatIp(ranges.serviceCidr.base + first + i),
        (v) => ips.has(v) || claimedIps.has(v),
      );
      if (free === undefined)
        problem(
          'spec.clusterIPs',
          `failed to allocate a serviceIP: range is full (network.serviceCidr ${ranges.serviceCidrText}: ${count} addresses, all held)`,
        );
      else {
        desired.spec.clusterIP = free;
        desired.spec.clusterIPs = [free];
        claimIp(free);
      }
    } else if (ip !== 'None' && ip !== old?.spec.clusterIP) {
      const n = parseIp(ip); // validated: an IPv4 address
      const { first, count } = usableIndexes(ranges.serviceCidr);
      const index = n - ranges.serviceCidr.base;
      const other = byOther(ips, ip, holder);
      if (!cidrContains(ranges.serviceCidr, n) || index < first || index >= first + count)
        problem(
          'spec.clusterIPs',
          `Invalid value: ["${ip}"]: failed to allocate IP ${ip}: the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${ranges.serviceCidrText} (network.serviceCidr)`,
        );
      else if (other || claimedIps.has(ip))
        problem(
          'spec.clusterIPs',
          `Invalid value: ["${ip}"]: failed to allocate IP ${ip}: provided IP is already allocated (to Service ${other ?? 'of this apply'})`,
        );
      else claimIp(ip);
    }
    // NodePorts: kept when the port still has them, the others freed; new ones claimed or allocated.
    const oldPorts = new Set(
      old && needsNodePorts(old)
        ? (old.spec.ports ?? []).flatMap((p) => (p.nodePort ? [String(p.nodePort)] : []))
        : [],
    );
    const keep = new Set<string>();
    if (needsNodePorts(desired)) {
      (desired.spec.ports ?? []).forEach((p: ServicePort, i) => {
        const field = `spec.ports[${i}].nodePort`;
        const { first, last } = ranges.nodePorts;
        if (p.nodePort !== undefined) {
          const v = String(p.nodePort);
          if (oldPorts.has(v) || keep.has(v)) {
            keep.add(v);
            return;
          }
          const other = byOther(ports, v, holder);
          if (p.nodePort < first || p.nodePort > last)
            problem(
              field,
              `Invalid value: ${p.nodePort}: provided port is not in the valid range. The range of valid ports is ${ranges.nodePortRangeText} (network.nodePortRange)`,
            );
          else if (other || claimedPorts.has(v))
            problem(
              field,
              `Invalid value: ${p.nodePort}: provided port is already allocated (to Service ${other ?? 'of this apply'})`,
            );
          else {
            claimedPorts.add(v);
            keep.add(v);
            if (ports.get(v)?.holder !== holder)
              plan.claims.push({ key: keys.nodePort(cluster, p.nodePort), value: holder });
          }
          return;
        }
        const free = pickFree(
          last - first + 1,
          (i) => String(first + i),
          (v) => ports.has(v) || claimedPorts.has(v),
        );
        if (free === undefined) {
          problem(
            field,
            `failed to allocate a nodePort: range is full (network.nodePortRange ${ranges.nodePortRangeText}, all held)`,
          );
          return;
        }
        p.nodePort = Number(free);
        claimedPorts.add(free);
        keep.add(free);
        plan.claims.push({ key: keys.nodePort(cluster, p.nodePort), value: holder });
      });
    }
    for (const v of oldPorts) {
      const held = ports.get(v);
      if (!keep.has(v) && held?.holder === holder)
        plan.frees.push({ key: keys.nodePort(cluster, Number(v)), mod: held.mod });
    }
  }
  return plan;
}

/** An update keeps what the stored Service was given: a manifest without clusterIP (or without a port's
 * nodePort, for a port it still has: same port and protocol) gets the stored value, as k8s does. */
export function keepAllocated(old: Service, desired: Service): void {
  if (isExternalName(old) || isExternalName(desired)) return;
  if (desired.spec.clusterIP === undefined && old.spec.clusterIP !== undefined) {
    desired.spec.clusterIP = old.spec.clusterIP;
    desired.spec.clusterIPs = old.spec.clusterIPs ?? [old.spec.clusterIP];
  }
  if (!needsNodePorts(desired) || !needsNodePorts(old)) return;
  for (const p of desired.spec.ports ?? []) {
    if (p.nodePort !== undefined) continue;
    const was = (old.spec.ports ?? []).find((o) => o.port === p.port && o.protocol === p.protocol);
    if (was?.nodePort !== undefined && !(desired.spec.ports ?? []).some((q) => q.nodePort === was.nodePort))
      p.nodePort = was.nodePort;
  }
}

const isExternalName = (svc: Service) => svc.spec.type === 'ExternalName';

/** k8s' message for a changed ClusterIP, or undefined. A Service does not change to or from ExternalName
 * in place here (k8s frees or allocates the address then): delete and re-create it. */
export function clusterIpChange(old: Service, desired: Service): string | undefined {
  if (isExternalName(old) !== isExternalName(desired))
    return `spec.type: Invalid value: "${desired.spec.type ?? 'ClusterIP'}": may not change ${isExternalName(old) ? 'from' : 'to'} ExternalName here (it is ${old.spec.type ?? 'ClusterIP'}); delete and re-create the Service`;
  if (isExternalName(desired)) return undefined;
  if (old.spec.clusterIP === undefined || desired.spec.clusterIP === old.spec.clusterIP) return undefined;
  return `spec.clusterIPs[0]: Invalid value: ["${desired.spec.clusterIP}"]: may not change once set (it is ${old.spec.clusterIP}); delete and re-create the Service`;
}
