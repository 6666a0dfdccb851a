// resolv.conf files (pure): the host's read (network.resolvConf), and a pod's formed from its dnsPolicy
// and dnsConfig as the kubelet forms it (pkg/kubelet/network/dns):
//   ClusterFirst (default)   nameserver <node resolver>; search <ns>.svc.<domain> svc.<domain> <domain>
//                            + the host's search domains; options ndots:5
//   ClusterFirstWithHostNet  the same, for hostNetwork pods (a hostNetwork pod with ClusterFirst gets Default)
//   Default                  the host's file
//   None                     nothing but dnsConfig
// then dnsConfig is merged in (nameservers and searches appended without duplicates, options replacing
// those of the same name) and the result cut to the resolver's limits (3 nameservers, 32 search domains of
// at most 2048 characters in all), each cut said in `warnings` (the kubelet's DNSConfigForming event).
import { isIP } from 'node:net';
import type { Pod } from '../objects/types.ts';

export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  /** `name` or `name:value`. */
  options: string[];
}

/** The resolvers' limits (glibc's MAXNS, and the kubelet's search limits). */
export const MAX_NAMESERVERS = 3;
export const MAX_SEARCHES = 32;
export const MAX_SEARCH_CHARS = 2048;

/** A resolv.conf's nameservers, search domains (the last `search` or `domain` line wins, as in glibc) and
 * options. Lines that are not an address are left out. */
export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0] && isIP(rest[0].split('%')[0]!)) out.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') out.searches = rest.filter(Boolean);
    else if (key === 'options') out.options.push(...rest.filter(Boolean));
  }
  return out;
}

/** A loopback nameserver (a local stub such as systemd-resolved's 127.0.0.53): reached from the host's
 * network namespace only, never from a pod's own. */
export const isLoopback = (ip: string) => ip.startsWith('127.') || ip === '::1';

export function formatResolvConf(rc: ResolvConf): string {
  const lines = ['# Kubernetes-managed resolv.conf (nokube).'];
  for (const ns of rc.nameservers) lines.push(`nameserver ${ns}`);
  if (rc.searches.length > 0) lines.push(`search ${rc.searches.join(' ')}`);
  if (rc.options.length > 0) lines.push(`options ${rc.options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

export interface PodDnsInput {
  clusterDomain: string;
  /** The node resolver's address (the node's pod gateway). */
  nameserver: string;
  host: ResolvConf;
}

/** The policy that applies: ClusterFirst on the host network is Default, as in k8s. */
export function effectivePolicy(pod: Pod): 'ClusterFirst' | 'Default' | 'None' {
  const policy = pod.spec.dnsPolicy ?? 'ClusterFirst';
  if (policy === 'None' || policy === 'Default') return policy;
  if (policy === 'ClusterFirst' && pod.spec.hostNetwork) return 'Default';
  return 'ClusterFirst';
}

export function podResolvConf(pod: Pod, input: PodDnsInput): { conf: ResolvConf; warnings: string[] } {
  const policy = effectivePolicy(pod);
  const { host, clusterDomain } = input;
  let conf: ResolvConf;
  if (policy === 'ClusterFirst') {
    const ns = pod.metadata.namespace ?? 'default';
    conf = {
      nameservers: [input.nameserver],
      searches: unique([
        `${ns}.svc.${clusterDomain}`,
        `svc.${clusterDomain}`,
        clusterDomain,
        ...host.searches,
      ]),
      options: ['ndots:5'],
    };
  } else if (policy === 'Default') {
    // A pod in its own network namespace reaches no loopback stub of the host: the node resolver, which
    // forwards to it from the host, stands in for it.
    const own = !pod.spec.hostNetwork;
    conf = {
      nameservers: unique(host.nameservers.map((n) => (own && isLoopback(n) ? input.nameserver : n))),
      searches: [...host.searches],
      options: [...host.options],
    };
  } else conf = { nameservers: [], searches: [], options: [] };
  const extra = pod.spec.dnsConfig;
  if (extra) {
    conf.nameservers = unique([...conf.nameservers, ...(extra.nameservers ?? [])]);
    conf.searches = unique([...conf.searches, ...(extra.searches ?? [])]);
    conf.options = mergeOptions(conf.options, extra.options ?? []);
  }
  return fitLimits(conf);
}

/** dnsConfig's options replace those of the same name. */
function mergeOptions(base: string[], extra: Array<{ name: string; value?: string }>): string[] {
  const byName = new Map<string, string>();
  for (const o of base) byName.set(o.split(':')[0]!, o);
  for (const o of extra) byName.set(o.name, o.value !== undefined ? `${o.name}:${o.value}` : o.name);
  return [...byName.values()];
}

function fitLimits(conf: ResolvConf): { conf: ResolvConf; warnings: string[] } {
  const warnings: string[] = [];
  if (conf.nameservers.length > MAX_NAMESERVERS) {
    conf.nameservers = conf.nameservers.slice(0, MAX_NAMESERVERS);
    warnings.push(
      `Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${conf.nameservers.join(' ')}`,
    );
  }
  let searches = conf.searches.slice(0, MAX_SEARCHES);
  while (searches.join(' ').length > MAX_SEARCH_CHARS) searches = searches.slice(0, -1);
  if (searches.length < conf.searches.length) {
    conf.searches = searches;
    warnings.push(
      `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${searches.join(' ')}`,
    );
  }
  return { conf, warnings };
}

const unique = (list: string[]) => [...new Set(list)];
