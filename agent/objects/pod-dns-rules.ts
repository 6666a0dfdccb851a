// k8s' rules for a pod's DNS fields (validatePodDNSConfig): dnsPolicy None needs dnsConfig with a
// nameserver; at most 3 nameservers; at most 32 search domains, 2048 characters in all, each a DNS
// subdomain (a trailing dot allowed); every option named.
import { MAX_NAMESERVERS, MAX_SEARCH_CHARS, MAX_SEARCHES } from '../dns/resolv-conf.ts';
import { DNS_SUBDOMAIN_MESSAGE, isDnsSubdomain } from './name-rules.ts';
import type { PodSpec } from './types.ts';

type Problem = [Array<string | number>, string];

export function podDnsProblems(spec: PodSpec, at: Array<string | number>): Problem[] {
  const out: Problem[] = [];
  const config = spec.dnsConfig;
  const cAt = [...at, 'dnsConfig'];
  if (spec.dnsPolicy === 'None') {
    if (!config) return [[cAt, 'must provide `dnsConfig` when `dnsPolicy` is None']];
    if (!config.nameservers?.length)
      out.push([
        [...cAt, 'nameservers'],
        'must provide at least one DNS nameserver when `dnsPolicy` is None',
      ]);
  }
  if (!config) return out;
  if ((config.nameservers?.length ?? 0) > MAX_NAMESERVERS)
    out.push([[...cAt, 'nameservers'], `must not have more than ${MAX_NAMESERVERS} nameservers`]);
  const searches = config.searches ?? [];
  if (searches.length > MAX_SEARCHES)
    out.push([[...cAt, 'searches'], `must not have more than ${MAX_SEARCHES} search paths`]);
  if (searches.join(' ').length > MAX_SEARCH_CHARS)
    out.push([
      [...cAt, 'searches'],
      `must not have more than ${MAX_SEARCH_CHARS} characters (including spaces)`,
    ]);
  searches.forEach((s, i) => {
    if (!isDnsSubdomain(s.replace(/\.$/, ''))) out.push([[...cAt, 'searches', i], DNS_SUBDOMAIN_MESSAGE]);
  });
  (config.options ?? []).forEach((o, i) => {
    if (o.name === '') out.push([[...cAt, 'options', i, 'name'], 'must not be empty']);
  });
  return out;
}
