// Kubernetes' rules for a Service across its fields (ValidateService), with k8s' messages: ports are
// required unless headless, named (DNS labels, unique) when there are several, unique by port and
// protocol; nodePort only for NodePort, unique; clusterIP an IPv4 address or "None" (not for NodePort),
// clusterIPs[0] equal to it; session affinity's timeout in (0, 86400], its config only with ClientIP;
// ExternalName: externalName a DNS subdomain, no clusterIP, ports optional.
import { parseIp } from '../net/cidr.ts';
import { DNS_LABEL_MESSAGE, DNS_SUBDOMAIN_MESSAGE, isDnsLabel, isDnsSubdomain } from './name-rules.ts';
import type { ServiceSpec } from './types.ts';

type Problem = [Array<string | number>, string];

const isIPv4 = (text: string): boolean => {
  try {
    parseIp(text);
    return true;
  } catch {
    return false;
  }
};

/** k8s' MaxClientIPServiceAffinitySeconds. */
export const MAX_AFFINITY_SECONDS = 86_400;

/** k8s: a Service's name is a DNS-1035 label (its environment variables and DNS name derive from it). */
const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export function serviceProblems(name: string, spec: ServiceSpec): Problem[] {
  const out: Problem[] = [];
  if (name.length > 63 || !DNS_1035.test(name))
    out.push([
      ['metadata', 'name'],
      `Invalid value: "${name}": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (at most 63 characters)`,
    ]);
  const at = (...path: Array<string | number>) => ['spec', ...path];
  const headless = spec.clusterIP === 'None';
  const ports = spec.ports ?? [];
  const type = spec.type ?? 'ClusterIP';
  const external = type === 'ExternalName';
  if (external) {
    // k8s: a DNS-1123 subdomain (a trailing dot allowed), lower case; no address of its own.
    const name = spec.externalName ?? '';
    if (!name) out.push([at('externalName'), 'Required value']);
    else if (!isDnsSubdomain(name.replace(/\.$/, '')))
      out.push([at('externalName'), `Invalid value: "${name}": ${DNS_SUBDOMAIN_MESSAGE}`]);
    if (spec.clusterIP !== undefined && spec.clusterIP !== '')
      out.push([at('clusterIP'), 'Forbidden: may not be set for ExternalName services']);
  }
  if (ports.length === 0 && !headless && !external) out.push([at('ports'), 'Required value']);
  const names = new Set<string>();
  const portProtocols = new Set<string>();
  const nodePorts = new Set<string>();
  ports.forEach((p, i) => {
    if (ports.length > 1 && !p.name) out.push([at('ports', i, 'name'), 'Required value']);
    else if (p.name !== undefined && p.name !== '' && !isDnsLabel(p.name))
      out.push([at('ports', i, 'name'), `Invalid value: "${p.name}": ${DNS_LABEL_MESSAGE}`]);
    if (p.name) {
      if (names.has(p.name)) out.push([at('ports', i, 'name'), `Duplicate value: "${p.name}"`]);
      names.add(p.name);
    }
    const protocol = p.protocol ?? 'TCP';
    const pp = `${p.port}/${protocol}`;
    if (portProtocols.has(pp))
      out.push([at('ports', i), `Duplicate value: {"port":${p.port},"protocol":"${protocol}"}`]);
    portProtocols.add(pp);
    if (p.nodePort !== undefined) {
      if (type !== 'NodePort')
        out.push([at('ports', i, 'nodePort'), `Forbidden: may not be used when \`type\` is '${type}'`]);
      const np = `${p.nodePort}/${protocol}`;
      if (nodePorts.has(np)) out.push([at('ports', i, 'nodePort'), `Duplicate value: ${p.nodePort}`]);
      nodePorts.add(np);
    }
  });
  const ip = spec.clusterIP;
  if (ip !== undefined && ip !== 'None' && !external && !isIPv4(ip))
    out.push([
      at('clusterIP'),
      `Invalid value: "${ip}": must be a valid IPv4 address (e.g. 10.9.8.7) or "None"`,
    ]);
  if (headless && type === 'NodePort')
    out.push([at('clusterIP'), 'Invalid value: "None": may not be set to \'None\' for NodePort services']);
  const ips = spec.clusterIPs;
  if (ips && ips.length > 1)
    out.push([at('clusterIPs'), 'Invalid value: may hold one address only (IPv4 SingleStack)']);
  if (ips?.[0] !== undefined && ip !== undefined && ips[0] !== ip)
    out.push([at('clusterIPs', 0), `Invalid value: "${ips[0]}": must match \`clusterIP\` when present`]);
  else if (ips?.[0] !== undefined && ips[0] !== 'None' && !isIPv4(ips[0]))
    out.push([at('clusterIPs', 0), `Invalid value: "${ips[0]}": must be a valid IPv4 address or "None"`]);
  const affinity = spec.sessionAffinity ?? 'None';
  if (affinity === 'None' && spec.sessionAffinityConfig !== undefined)
    out.push([at('sessionAffinityConfig'), 'Invalid value: must not be set when session affinity is None']);
  const timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
  if (affinity === 'ClientIP' && timeout !== undefined && (timeout <= 0 || timeout > MAX_AFFINITY_SECONDS))
    out.push([
      at('sessionAffinityConfig', 'clientIP', 'timeoutSeconds'),
      `Invalid value: ${timeout}: must be greater than 0 and less than ${MAX_AFFINITY_SECONDS}`,
    ]);
  if (type !== 'NodePort' && spec.externalTrafficPolicy !== undefined)
    out.push([at('externalTrafficPolicy'), 'Invalid value: may only be set for NodePort services']);
  return out;
}
