// UDP has no connection to end: conntrack keeps a flow's NAT (to one endpoint) for as long as packets
// keep coming, so a client with a steady stream (or a fixed source port) keeps sending to an endpoint
// that has left. As kube-proxy does, after a load the flows DNATed to an endpoint that a UDP Service
// port (its ClusterIP, its NodePort) no longer sends to are deleted (`conntrack -D`, conntrack-tools);
// the next packet is a new flow, to an endpoint that is there. TCP needs nothing: a dead endpoint's
// connections fail and the client connects again.
import { execFile } from 'node:child_process';
import type { UdpTarget } from '../nft/plan.ts';

export interface StaleFlow {
  /** The ClusterIP, or absent for a NodePort (any of the node's addresses). */
  clusterIP?: string;
  port: number;
  endpoint: string;
}

const keyOf = (t: UdpTarget) => `${t.clusterIP}:${t.port}`;

/** The flows to delete going from the `before` load to the `after` one: per UDP Service port (and its
 * NodePort), each endpoint it no longer sends to (all of them for a port that is gone). */
export function staleUdpFlows(before: readonly UdpTarget[], after: readonly UdpTarget[]): StaleFlow[] {
  const now = new Map(after.map((t) => [keyOf(t), t]));
  const out: StaleFlow[] = [];
  for (const t of before) {
    const next = now.get(keyOf(t));
    const kept = new Set(next?.endpoints ?? []);
    for (const endpoint of t.endpoints) {
      if (kept.has(endpoint)) continue;
      out.push({ clusterIP: t.clusterIP, port: t.port, endpoint });
      if (t.nodePort) out.push({ port: t.nodePort, endpoint });
    }
  }
  return out;
}

/** conntrack's arguments deleting one stale flow's entries. */
export const conntrackArgs = (f: StaleFlow): string[] => [
  '-D',
  '-p',
  'udp',
  ...(f.clusterIP ? ['--orig-dst', f.clusterIP] : []),
  '--orig-port-dst',
  String(f.port),
  '--dst-nat',
  f.endpoint,
];

/** Deletes the flows' entries, one `conntrack` run each (5 s bound). None found is no error; a missing
 * conntrack or a refusal rejects with its reason (after trying every flow). Returns how many were
 * deleted. */
export async function deleteFlows(flows: readonly StaleFlow[]): Promise<number> {
  let deleted = 0;
  let failure: Error | undefined;
  for (const f of flows) {
    const outcome = await new Promise<{ err?: Error; stderr: string }>((resolve) =>
      execFile('conntrack', conntrackArgs(f), { timeout: 5000 }, (err, _out, stderr) =>
        resolve({ ...(err ? { err } : {}), stderr: String(stderr) }),
      ),
    );
    const count = /(\d+) flow entries have been deleted/.exec(outcome.stderr)?.[1];
    if (count !== undefined) deleted += Number(count);
    // conntrack exits 1 when it deleted nothing: not a failure.
    if (outcome.err && count === undefined)
      failure ??= new Error(
        (outcome.err as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'conntrack not found (Debian conntrack)'
          : `conntrack ${conntrackArgs(f).join(' ')}: ${outcome.stderr.trim() || outcome.err.message}`,
      );
  }
  if (failure) throw failure;
  return deleted;
}
