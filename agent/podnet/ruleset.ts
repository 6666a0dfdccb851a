// The node's nftables table, as text from what is wanted (pure): outbound traffic of the pods
// masqueraded (not towards other pods), host ports DNATed to their pod, the overlay's packets untracked. Applied as one transaction
// that replaces the whole table (and touches no other); its comment holds a digest of the rules, so an
// agent restart that wants the same rules leaves the table alone.
import { createHash } from 'node:crypto';

export interface HostPortRule {
  protocol: 'TCP' | 'UDP';
  /** The host port. */
  port: number;
  /** Only this host address ('0.0.0.0': any of the node's). */
  hostIP: string;
  podIP: string;
  podPort: number;
}

export interface Ruleset {
  table: string;
  /** The node's pod subnet and the cluster's pod CIDR. */
  subnet: string;
  podCidr: string;
  hostPorts: readonly HostPortRule[];
  /** The VXLAN overlay's UDP port (backend vxlan): its packets skip conntrack (nothing NATs them; each
   * flow inside would otherwise cost an entry for its outer packets on both nodes). */
  untrackedUdpPort?: number;
}

/** The table's body: chains and rules, host ports sorted (the same wish gives the same text). */
export function rulesetBody(r: Ruleset): string {
  const ports = [...r.hostPorts].sort(
    (a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol) || a.hostIP.localeCompare(b.hostIP),
  );
  const dnat = ports.map((p) => {
    const daddr = p.hostIP === '0.0.0.0' ? 'fib daddr type local' : `ip daddr ${p.hostIP}`;
    return `    ${daddr} ${p.protocol.toLowerCase()} dport ${p.port} dnat to ${p.podIP}:${p.podPort}`;
  });
  const untracked = (hook: string) =>
    r.untrackedUdpPort === undefined
      ? []
      : [
          `  chain raw-${hook} {`,
          `    type filter hook ${hook} priority raw; policy accept;`,
          `    udp dport ${r.untrackedUdpPort} notrack`,
          '  }',
        ];
  return [
    ...untracked('prerouting'),
    ...untracked('output'),
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    ...dnat,
    '  }',
    '  chain output {',
    // dstnat's value (-100): nft takes the name only in prerouting.
    '    type nat hook output priority -100; policy accept;',
    ...dnat,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ip saddr ${r.subnet} ip daddr != ${r.podCidr} masquerade`,
    // A host port reached from the node itself on a loopback address: the pod answers the node.
    `    ct status dnat ip saddr 127.0.0.0/8 ip daddr ${r.subnet} masquerade`,
    '  }',
  ].join('\n');
}

export const rulesetDigest = (r: Ruleset) =>
  createHash('sha256').update(rulesetBody(r)).digest('hex').slice(0, 16);

/** The nft file that makes the table exactly this: created empty if absent, deleted, defined again — one
 * transaction, so there is never a moment without the rules. */
export function rulesetFile(r: Ruleset): string {
  return [
    `table ip ${r.table} {}`,
    `delete table ip ${r.table}`,
    `table ip ${r.table} {`,
    `  comment "nokube pod network ${rulesetDigest(r)}"`,
    rulesetBody(r),
    '}',
    '',
  ].join('\n');
}
