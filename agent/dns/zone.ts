// What the node resolver knows of the cluster (pure): per Service its ClusterIP (none when headless), its
// ports, and the ready endpoints of its EndpointSlices (address, hostname). Built from the informers'
// Services and EndpointSlices, or from the workspace cache while etcd has not answered; JSON as it is.
import type { EndpointSlice, Service } from '../objects/types.ts';

export interface ZonePort {
  name: string;
  protocol: 'TCP' | 'UDP';
  port: number;
}
export interface ZoneEndpoint {
  ip: string;
  /** The pod's `hostname` when its `subdomain` names this Service (the EndpointSlice's `hostname`). */
  hostname?: string;
}
export interface ZoneService {
  namespace: string;
  name: string;
  /** Absent: headless (`clusterIP: None`), answered with its endpoints; or an ExternalName. */
  clusterIP?: string;
  /** type ExternalName: the name this one is an alias of (answered with a CNAME to it). */
  externalName?: string;
  ports: ZonePort[];
  /** Ready endpoints, in the slices' order, each address once. */
  endpoints: ZoneEndpoint[];
  /** The endpoints' ports (a headless Service's SRV records name them, as the slices do). */
  endpointPorts: ZonePort[];
}
export interface ZoneData {
  services: ZoneService[];
}

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** The zone of these Services and slices (slices of a Service not given are left out). */
export function buildZone(services: readonly Service[], slices: readonly EndpointSlice[]): ZoneData {
  const bySvc = new Map<string, EndpointSlice[]>();
  for (const s of slices) {
    const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
    if (!svc) continue;
    const key = `${s.metadata.namespace}/${svc}`;
    bySvc.set(key, [...(bySvc.get(key) ?? []), s]);
  }
  const out: ZoneService[] = [];
  for (const svc of services) {
    const namespace = svc.metadata.namespace ?? 'default';
    const ip = svc.spec.clusterIP;
    const own = bySvc.get(`${namespace}/${svc.metadata.name}`) ?? [];
    const endpoints: ZoneEndpoint[] = [];
    const seen = new Set<string>();
    const endpointPorts = new Map<string, ZonePort>();
    for (const slice of own) {
      for (const p of slice.ports ?? [])
        if (p.port !== undefined)
          endpointPorts.set(`${p.name ?? ''}/${p.protocol ?? 'TCP'}`, {
            name: p.name ?? '',
            protocol: p.protocol ?? 'TCP',
            port: p.port,
          });
      // k8s: an absent `ready` means ready.
      for (const e of slice.endpoints ?? [])
        if (e.conditions?.ready !== false)
          for (const a of e.addresses)
            if (!seen.has(a)) {
              seen.add(a);
              endpoints.push(e.hostname ? { ip: a, hostname: e.hostname } : { ip: a });
            }
    }
    if (svc.spec.type === 'ExternalName') {
      const target = (svc.spec.externalName ?? '').toLowerCase().replace(/\.$/, '');
      out.push({
        namespace,
        name: svc.metadata.name,
        externalName: target,
        ports: [],
        endpoints: [],
        endpointPorts: [],
      });
      continue;
    }
    out.push({
      namespace,
      name: svc.metadata.name,
      ...(ip && ip !== 'None' ? { clusterIP: ip } : {}),
      ports: (svc.spec.ports ?? []).map((p) => ({
        name: p.name ?? '',
        protocol: p.protocol ?? 'TCP',
        port: p.port,
      })),
      endpoints,
      endpointPorts: [...endpointPorts.values()],
    });
  }
  return { services: out };
}

/** The zone indexed for look-ups: names lower-case. */
export class Zone {
  readonly data: ZoneData;
  private readonly services = new Map<string, ZoneService>();
  private readonly namespaces = new Set<string>();
  /** Per address, the names (relative to the domain) that have it: reverse look-ups. */
  private readonly byIp = new Map<string, string[]>();

  constructor(data: ZoneData) {
    this.data = data;
    for (const s of data.services) {
      this.services.set(`${s.name}.${s.namespace}`, s);
      this.namespaces.add(s.namespace);
      const svc = `${s.name}.${s.namespace}.svc`;
      if (s.clusterIP) this.addName(s.clusterIP, svc);
      else if (!s.externalName)
        for (const e of s.endpoints) this.addName(e.ip, `${e.hostname ?? e.ip.replaceAll('.', '-')}.${svc}`);
    }
  }

  private addName(ip: string, name: string): void {
    this.byIp.set(ip, [...(this.byIp.get(ip) ?? []), name]);
  }

  service(name: string, namespace: string): ZoneService | undefined {
    return this.services.get(`${name}.${namespace}`);
  }

  /** The names (relative to the domain) whose address is `ip`. */
  namesOf(ip: string): readonly string[] {
    return this.byIp.get(ip) ?? [];
  }

  /** A namespace with at least one Service. */
  hasNamespace(namespace: string): boolean {
    return this.namespaces.has(namespace);
  }
}
