// The routes, neighbours and forwarding entries this node has in its kernel, read (`ip -j`, `bridge -j`)
// as the planner's entries, and the planner's difference applied (`ip -force -batch -`, `bridge -force
// -batch -`: one process each, a line that fails does not stop the others; the next reconcile reads again).
// Ours are the routes of protocol ROUTE_PROTO inside the cluster's pod CIDR and what is on our VXLAN
// device; nothing else is read as ours, so nothing else is ever removed.
import { cidrContains } from '../net/cidr.ts';
import { ipJson, run } from '../podnet/kernel.ts';
import type { FdbEntry, Neighbour, PlanDiff, Route, RoutePlan } from './plan.ts';

/** The routing protocol number on our routes (`ip route ... proto 78`): what marks them as ours. */
export const ROUTE_PROTO = 78;

interface KernelRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}
interface KernelNeighbour {
  dst: string;
  lladdr?: string;
  state?: string[];
}
interface KernelFdb {
  mac: string;
  dst?: string;
}

/** What the kernel has of ours (the device's entries only when it exists). */
export async function readKernel(
  podCidr: string,
  vxlanDev: string,
  deviceExists: boolean,
): Promise<RoutePlan> {
  const routes = ((await ipJson<KernelRoute[]>(['route', 'show', 'proto', String(ROUTE_PROTO)])) ?? [])
    .filter((r) => r.dst.includes('/') && r.gateway && inCidr(podCidr, r.dst))
    .map((r): Route => ({ dst: r.dst, via: r.gateway!, ...(r.dev === vxlanDev ? { dev: vxlanDev } : {}) }));
  if (!deviceExists) return { routes, neighbours: [], fdb: [] };
  const neighbours = ((await ipJson<KernelNeighbour[]>(['neigh', 'show', 'dev', vxlanDev])) ?? [])
    .filter((n) => n.lladdr && n.state?.includes('PERMANENT'))
    .map((n): Neighbour => ({ ip: n.dst, mac: n.lladdr!, dev: vxlanDev }));
  const fdb = (await bridgeJson<KernelFdb[]>(['fdb', 'show', 'dev', vxlanDev]))
    .filter((f) => f.dst)
    .map((f): FdbEntry => ({ mac: f.mac, dst: f.dst!, dev: vxlanDev }));
  return { routes, neighbours, fdb };
}

function inCidr(cidr: string, dst: string): boolean {
  try {
    return cidrContains(cidr, dst.split('/')[0]!);
  } catch {
    return false;
  }
}

async function bridgeJson<T>(args: string[]): Promise<T> {
  const out = await run('bridge', ['-j', ...args]);
  return (out.trim() ? JSON.parse(out) : []) as T;
}

export interface Diffs {
  routes: PlanDiff<Route>;
  neighbours: PlanDiff<Neighbour>;
  fdb: PlanDiff<FdbEntry>;
}

/** The commands for a difference (pure): forwarding entries and neighbours first, then routes that use
 * them; what goes last. A route whose destination stays is replaced in place (never a moment without). */
export function diffCommands(d: Diffs): { ip: string[]; bridge: string[] } {
  const proto = `proto ${ROUTE_PROTO}`;
  const route = (r: Route) => `${r.dst} via ${r.via}${r.dev ? ` dev ${r.dev} onlink` : ''} ${proto}`;
  const replaced = new Set(d.routes.add.map((r) => r.dst));
  const ip = [
    ...d.neighbours.add.map((n) => `neigh replace ${n.ip} lladdr ${n.mac} dev ${n.dev} nud permanent`),
    ...d.routes.add.map((r) =>
      d.routes.remove.some((o) => o.dst === r.dst) ? `route replace ${route(r)}` : `route add ${route(r)}`,
    ),
    ...d.routes.remove
      .filter((r) => !replaced.has(r.dst))
      .map((r) => `route del ${r.dst} via ${r.via}${r.dev ? ` dev ${r.dev}` : ''} ${proto}`),
    ...d.neighbours.remove
      .filter((n) => !d.neighbours.add.some((a) => a.ip === n.ip))
      .map((n) => `neigh del ${n.ip} dev ${n.dev}`),
  ];
  const bridge = [
    ...d.fdb.add.map((f) => `fdb append ${f.mac} dev ${f.dev} dst ${f.dst}`),
    ...d.fdb.remove.map((f) => `fdb del ${f.mac} dev ${f.dev} dst ${f.dst}`),
  ];
  return { ip, bridge };
}

/** Forwarding entries first (a route's next hop must be reachable through them), then ip's lines. Each
 * call runs all its lines; the first failures are thrown together at the end. */
export async function applyCommands(cmds: { ip: string[]; bridge: string[] }): Promise<void> {
  const errors: string[] = [];
  const fdbAdds = cmds.bridge.filter((l) => l.startsWith('fdb append'));
  const fdbDels = cmds.bridge.filter((l) => !l.startsWith('fdb append'));
  for (const [file, lines] of [
    ['bridge', fdbAdds],
    ['ip', cmds.ip],
    ['bridge', fdbDels],
  ] as const) {
    if (lines.length === 0) continue;
    await run(file, ['-force', '-batch', '-'], `${lines.join('\n')}\n`).catch((err: Error) =>
      errors.push(err.message),
    );
  }
  if (errors.length > 0) throw new Error(errors.join('; '));
}

/** How this node reaches an address: `local` (one of its own: a peer in this same kernel), `direct` (on
 * a link of this node) or `gateway` (through a router). `ip -j route get`, one process for all. */
export async function reachOf(addresses: string[]): Promise<Map<string, 'local' | 'direct' | 'gateway'>> {
  const out = new Map<string, 'local' | 'direct' | 'gateway'>();
  const one = (r: { type?: string; gateway?: string } | undefined) =>
    r?.type === 'local' ? 'local' : r?.gateway ? 'gateway' : 'direct';
  if (addresses.length === 0) return out;
  try {
    const text = await run(
      'ip',
      ['-j', '-batch', '-'],
      `${addresses.map((a) => `route get ${a}`).join('\n')}\n`,
    );
    const answers = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Array<{ type?: string; gateway?: string }>);
    if (answers.length !== addresses.length) throw new Error('one answer per address expected');
    for (const [i, a] of addresses.entries()) out.set(a, one(answers[i]![0]));
  } catch {
    // One address without a route stops the batch: each on its own (no route: left out).
    for (const a of addresses) {
      const r = await ipJson<Array<{ type?: string; gateway?: string }>>(['route', 'get', a]).catch(
        () => null,
      );
      if (r?.[0]) out.set(a, one(r[0]));
    }
  }
  return out;
}
