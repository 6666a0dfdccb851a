// Routes between the nodes' pod subnets (network.backend host-gw | vxlan), kept by every agent of a
// cluster with a pod network: its inputs are the subnets (`network/subnets/<node>`) and VTEPs
// (`network/vteps/<node>`) in etcd, through shared informers, and the nodes' addresses (nodes[].address:
// a peer whose agent is down keeps its routes, since its pods run on). A reconcile runs on every change of
// those (coalesced: one in flight, one more queued at most: agent/loop/serial-sync.ts) and every 30 s. The inputs last used are
// cached in the workspace: before etcd has answered (an agent started cut off), the routes are made
// from the cache. With vxlan the agent publishes its own VTEP MAC.
import { type NetworkConfig, podNetworkOf } from '../config/schema.ts';
import type { AgentContext, AgentPart } from '../context.ts';
import type { Logger } from '../log/logger.ts';
import { SerialSync } from '../loop/serial-sync.ts';
import { type SubnetRecord, subnetCachePath } from '../podnet/subnet.ts';
import { readIfPresent } from '../state/config-cache.ts';
import { logEtcdFailure } from '../store/etcd.ts';
import { jsonInformer, type Lease } from '../store/informer/cluster.ts';
import { keys } from '../store/keys.ts';
import { type Outcome, RouteApplier } from './applier.ts';
import { type RoutesCache, readRoutesCache, writeRoutesCache } from './cache.ts';
import { type PeerSubnet, vtepMac } from './plan.ts';

/** The value of `network/vteps/<node>`: the node's VXLAN device's MAC. */
export interface VtepRecord {
  mac: string;
}

/** Every reconcile also runs this often (a route someone removed comes back). */
export const RESYNC_MS = 30_000;
/** After a failed reconcile (the kernel refused, no `ip`), again after 5 s, doubling to 60 s. */
const RETRY_FIRST_MS = 5000;
const RETRY_MAX_MS = 60_000;

export const routesPart: AgentPart = {
  name: 'routes',
  async start(ctx: AgentContext) {
    const network = podNetworkOf(ctx.config());
    if (!network) return null;
    const routes = new NodeRoutes(ctx, network, ctx.log.child({ part: 'routes' }));
    await routes.start();
    return { stop: () => routes.stop() };
  },
};

export class NodeRoutes {
  private readonly ctx: AgentContext;
  private readonly network: NetworkConfig;
  private readonly log: Logger;
  private readonly applier: RouteApplier;
  private subnets: Lease<SubnetRecord> | undefined;
  private vteps: Lease<VtepRecord> | undefined;
  private readonly offs: Array<() => void> = [];
  private cache: RoutesCache | undefined;
  private cacheText = '';
  private readonly sync: SerialSync;
  private lastWarning = '';
  private lastWaiting: string | undefined;
  private retryMs = RETRY_FIRST_MS;
  private lastFailure = '';
  /** Where the last reconcile's inputs came from: a change is logged (tests wait for it). */
  private lastSource: 'cache' | 'etcd' | undefined;

  constructor(ctx: AgentContext, network: NetworkConfig, log: Logger) {
    this.ctx = ctx;
    this.network = network;
    this.log = log;
    this.applier = new RouteApplier(ctx.cluster, ctx.nodeName);
    this.sync = new SerialSync({
      pass: () => this.reconcile(),
      failed: (err) => {
        // Said once per distinct failure (a host without the tools would say it every retry).
        const why = String(err);
        const retryInMs = this.retryMs;
        this.log[why === this.lastFailure ? 'debug' : 'warn'](
          { err: why, retryInMs },
          'routes reconcile failed; trying again',
        );
        this.lastFailure = why;
        this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
        return retryInMs;
      },
      succeeded: () => {
        this.retryMs = RETRY_FIRST_MS;
        this.lastFailure = '';
      },
      resyncMs: RESYNC_MS,
    });
  }

  async start(): Promise<void> {
    const { etcd, cluster } = this.ctx;
    this.cache = await readRoutesCache(this.ctx.self().workspace);
    if (this.cache?.backend !== this.network.backend || this.cache.podCidr !== this.network.podCidr)
      this.cache = undefined;
    this.cacheText = this.cache ? JSON.stringify(this.cache) : '';
    const changed = {
      add: () => this.schedule(),
      update: () => this.schedule(),
      delete: () => this.schedule(),
    };
    this.subnets = jsonInformer<SubnetRecord>(etcd, keys.networkSubnetsPrefix(cluster), this.log);
    this.offs.push(this.subnets.informer.on({ ...changed, listed: () => this.schedule() }));
    if (this.network.backend === 'vxlan') {
      this.vteps = jsonInformer<VtepRecord>(etcd, keys.networkVtepsPrefix(cluster), this.log);
      this.offs.push(this.vteps.informer.on({ ...changed, listed: () => this.schedule() }));
    }
    const onConfig = () => this.schedule();
    this.ctx.events.on('config', onConfig);
    this.offs.push(() => this.ctx.events.off('config', onConfig));
    // At once from the cache (an agent started cut off from etcd restores its routes).
    this.schedule();
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    await this.sync.stop().catch(() => undefined);
    await Promise.all([this.subnets?.release(), this.vteps?.release()]);
  }

  /** A reconcile soon: one in flight, the calls meanwhile folded into one more. */
  schedule(): void {
    this.sync.schedule();
  }

  private async reconcile(): Promise<void> {
    const { peers, source } = await this.inputs();
    if (!peers) return;
    const subnet = peers.find((p) => p.node === this.ctx.nodeName)?.subnet ?? (await this.cachedSubnet());
    const outcome = await this.applier.reconcile({
      backend: this.network.backend,
      podCidr: this.network.podCidr,
      address: this.ctx.self().address,
      subnet,
      peers,
    });
    this.report(outcome, peers.length);
    if (source !== this.lastSource)
      this.log.info({ source, changes: outcome.changes, nodes: peers.length }, 'routes reconciled');
    this.lastSource = source;
    if (this.network.backend === 'vxlan') await this.publishVtep();
  }

  /** This node's subnet as the pod network cached it (agent/podnet/subnet.ts), when etcd has not said. */
  private async cachedSubnet(): Promise<string | undefined> {
    const text = await readIfPresent(subnetCachePath(this.ctx.self().workspace));
    try {
      return text ? (JSON.parse(text) as SubnetRecord).cidr : undefined;
    } catch {
      return undefined;
    }
  }

  /** The peers from etcd once both informers have listed (and cached when they changed), else from the
   * cache; undefined while there is neither (nothing is removed on no information). */
  private async inputs(): Promise<{ peers: PeerSubnet[] | undefined; source: 'cache' | 'etcd' }> {
    const subnets = this.subnets!.informer;
    const vteps = this.vteps?.informer;
    if (!subnets.isSynced || (vteps && !vteps.isSynced)) return { peers: this.cache?.peers, source: 'cache' };
    const addresses = new Map(this.ctx.config().nodes.map((n) => [n.name, n.address]));
    const peers: PeerSubnet[] = [];
    for (const [node, e] of subnets.entries().sort((a, b) => a[0].localeCompare(b[0]))) {
      const address = addresses.get(node);
      if (!address) continue; // gone from the config: its subnet is about to be freed
      const mac = vteps?.get(node)?.value.mac;
      peers.push({ node, address, subnet: e.value.cidr, ...(mac ? { vtepMac: mac } : {}) });
    }
    const cache: RoutesCache = { backend: this.network.backend, podCidr: this.network.podCidr, peers };
    const text = JSON.stringify(cache);
    if (text !== this.cacheText) {
      await writeRoutesCache(this.ctx.self().workspace, cache);
      this.cache = cache;
      this.cacheText = text;
    }
    return { peers, source: 'etcd' };
  }

  private report(outcome: Outcome, peerCount: number): void {
    if (outcome.changes > 0)
      this.log.info(
        { changes: outcome.changes, nodes: peerCount, backend: this.network.backend },
        'routes to pod subnets changed',
      );
    if (outcome.waiting && outcome.waiting !== this.lastWaiting)
      this.log.info(`routes: waiting: ${outcome.waiting}`);
    this.lastWaiting = outcome.waiting;
    const message = outcome.unreachable
      .map((u) => `no route to the pods of node ${u.node} (${u.address}): ${u.why}`)
      .join('; ');
    if (message && message !== this.lastWarning) {
      this.log.warn({ reason: 'NoRouteToPods' }, message);
      this.ctx.recorder.warning({ kind: 'Node', name: this.ctx.nodeName }, 'NoRouteToPods', message);
    }
    this.lastWarning = message;
  }

  /** Our VTEP record as it should be (written when it differs; a failure is tried at the next reconcile). */
  private async publishVtep(): Promise<void> {
    const { etcd, cluster, nodeName } = this.ctx;
    const vteps = this.vteps!.informer;
    const mac = vtepMac(cluster, nodeName);
    if (!vteps.isSynced || vteps.get(nodeName)?.value.mac === mac) return;
    try {
      await etcd
        .put(keys.networkVtep(cluster, nodeName))
        .value(JSON.stringify({ mac } satisfies VtepRecord))
        .exec();
      this.log.info({ mac }, 'VTEP published');
    } catch (err) {
      logEtcdFailure(this.log, err, { node: nodeName }, 'VTEP publication failed; trying again');
    }
  }
}
