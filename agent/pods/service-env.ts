// The kubelet's Service environment variables (pkg/kubelet/envvars): for each Service of the pod's
// namespace that has a ClusterIP when the container is created, `<SVC>_SERVICE_HOST`,
// `<SVC>_SERVICE_PORT` (its first port), `<SVC>_SERVICE_PORT_<PORT NAME>` per named port, and the
// Docker-link style `<SVC>_PORT`, `<SVC>_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}`. Names upper-cased,
// '-' as '_'. Headless Services have none. A pod with `enableServiceLinks: false` gets none.
import type { Pod, Service } from '../objects/types.ts';

const envName = (s: string) => s.toUpperCase().replaceAll('-', '_');

/** The variables of these Services, in name order (a container's own env overrides them). */
export function serviceEnv(pod: Pod, services: readonly Service[]): Array<[string, string]> {
  if (pod.spec.enableServiceLinks === false) return [];
  const out: Array<[string, string]> = [];
  const sorted = [...services].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  for (const svc of sorted) {
    const host = svc.spec.clusterIP;
    if (!host || host === 'None') continue;
    const name = envName(svc.metadata.name);
    const ports = svc.spec.ports ?? [];
    out.push([`${name}_SERVICE_HOST`, host]);
    if (ports[0]) out.push([`${name}_SERVICE_PORT`, String(ports[0].port)]);
    for (const p of ports) if (p.name) out.push([`${name}_SERVICE_PORT_${envName(p.name)}`, String(p.port)]);
    ports.forEach((p, i) => {
      const protocol = (p.protocol ?? 'TCP').toUpperCase();
      const url = `${protocol.toLowerCase()}://${host}:${p.port}`;
      const prefix = `${name}_PORT_${p.port}_${protocol}`;
      if (i === 0) out.push([`${name}_PORT`, url]);
      out.push(
        [prefix, url],
        [`${prefix}_PROTO`, protocol.toLowerCase()],
        [`${prefix}_PORT`, String(p.port)],
        [`${prefix}_ADDR`, host],
      );
    });
  }
  return out;
}
