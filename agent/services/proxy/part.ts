// The Service data path of this node (kube-proxy's job): the Services and EndpointSlices, read through
// the agent's shared informers (the pods part informs the Services too: one watch), planned into one
// nftables table of the node's own (../nft/plan.ts) and loaded with `nft -f` off the event loop. One load
// in flight; changes meanwhile are folded into one more. Each load replaces the table whole in one
// transaction (never a moment without rules; conntrack keeps established connections' NAT); a table whose
// comment already holds the wanted digest is left alone, so an agent restart with the same inputs changes
// nothing in the kernel. Nothing is loaded from a partial view: until both informers have listed, the
// inputs come from the workspace cache of the last ones (an agent started cut off from etcd), or nothing
// is done. Runs for a cluster with a pod network (`network.mode: pod`, pods with their own IPs), read at the
// agent's start; without one, the node's table is removed if an earlier start left one.
import { type NetworkConfig, podNetworkOf } from '../../config/schema.ts';
import type { AgentContext, AgentPart } from '../../context.ts';
import type { Logger } from '../../log/logger.ts';
import { SerialSync } from '../../loop/serial-sync.ts';
import type { Stored } from '../../objects/store.ts';
import type { EndpointSlice, Service } from '../../objects/types.ts';
import { type Lease, objectInformer } from '../../store/informer/cluster.ts';
import { planServiceRules, tableName, type UdpTarget } from '../nft/plan.ts';
import {
  readServicesCache,
  type ServicesCache,
  trimService,
  trimSlice,
  writeServicesCache,
} from './cache.ts';
import { deleteFlows, type StaleFlow, staleUdpFlows } from './conntrack.ts';
import { loadedDigest, loadTable, removeTable } from './nft.ts';

/** After a failed load (no nft, refused, the kernel said no), again this long after. */
const RETRY_MS = 10_000;
/** The kernel's table is read again this often (someone flushed the ruleset: loaded again). */
const RESYNC_MS = 60_000;

export const serviceProxyPart: AgentPart = {
  name: 'service-proxy',
  async start(ctx: AgentContext) {
    const network = podNetworkOf(ctx.config());
    if (!network) {
      // No pod network (`mode: host`; read at start, as the pod network's): this node's table goes too.
      await removeTable(tableName(ctx.cluster, ctx.nodeName)).catch(() => undefined);
      return null;
    }
    const proxy = new ServiceProxy(ctx, network, ctx.log.child({ part: 'service-proxy' }));
    await proxy.start();
    return { stop: () => proxy.stop() };
  },
};

export class ServiceProxy {
  private readonly ctx: AgentContext;
  private readonly network: NetworkConfig;
  private readonly log: Logger;
  readonly table: string;
  private services: Lease<Stored> | undefined;
  private slices: Lease<Stored> | undefined;
  private readonly offs: Array<() => void> = [];
  private cache: ServicesCache | undefined;
  /** The cache file's text as last written (or read). */
  private cacheText = '';
  /** The digest the kernel's table is known to hold (read from its comment at start and every resync). */
  private applied: string | undefined;
  private readKernel = true;
  /** The UDP Service ports of the rules last loaded (or, at start, of the cached inputs): whose flows to
   * an endpoint that leaves are deleted after the next load. */
  private loadedUdp: UdpTarget[] | undefined;
  private lastConntrackError = '';
  private readonly sync: SerialSync;
  private lastError = '';

  constructor(ctx: AgentContext, network: NetworkConfig, log: Logger) {
    this.ctx = ctx;
    this.network = network;
    this.log = log;
    this.table = tableName(ctx.cluster, ctx.nodeName);
    this.sync = new SerialSync({
      pass: () => this.reconcile(),
      failed: (err) => {
        // Said once per different reason (a node without nft would say it every 10 s otherwise).
        if (err.message !== this.lastError) {
          this.log.error(
            { table: this.table, err: err.message, retryInMs: RETRY_MS },
            "service rules not loaded: this node's ClusterIPs and NodePorts are not routed (pods run on)",
          );
          this.ctx.recorder.warning(
            { kind: 'Node', name: this.ctx.nodeName },
            'ServiceRulesFailed',
            `service rules not loaded: ${err.message}`,
          );
        }
        this.lastError = err.message;
        return RETRY_MS;
      },
      succeeded: () => {
        if (this.lastError) this.log.info({ table: this.table }, 'service rules load works again');
        this.lastError = '';
      },
      resyncMs: RESYNC_MS,
      resync: () => {
        this.readKernel = true;
      },
    });
  }

  async start(): Promise<void> {
    const { etcd, cluster } = this.ctx;
    this.cache = await readServicesCache(this.ctx.self().workspace);
    this.cacheText = this.cache ? JSON.stringify(this.cache) : '';
    if (this.cache)
      this.loadedUdp = planServiceRules({ cluster, node: this.ctx.nodeName, ...this.cache }).udp;
    const changed = {
      add: () => this.schedule(),
      update: () => this.schedule(),
      delete: () => this.schedule(),
      listed: () => this.schedule(),
    };
    this.services = objectInformer(etcd, cluster, 'services', this.log);
    this.slices = objectInformer(etcd, cluster, 'endpointslices', this.log);
    // Replay off: every load reads the informers' caches whole (one listed already: the load below).
    this.offs.push(this.services.informer.on(changed, false), this.slices.informer.on(changed, false));
    // At once: from etcd when both listed already (another part's informers), else from the cache.
    this.schedule();
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    await this.sync.stop().catch(() => undefined);
    await Promise.all([this.services?.release(), this.slices?.release()]);
  }

  /** Once no load is in flight nor queued (tests). */
  settled(): Promise<void> {
    return this.sync.settled();
  }

  /** A load soon: one in flight, the calls meanwhile folded into one more (agent/loop/serial-sync.ts). */
  schedule(): void {
    this.sync.schedule();
  }

  private async reconcile(): Promise<void> {
    const inputs = this.inputs();
    if (!inputs) return;
    // The cache first: an agent that stops between the two loads these inputs at its next start.
    const text = JSON.stringify(inputs);
    if (text !== this.cacheText)
      try {
        await writeServicesCache(this.ctx.self().workspace, text);
        this.cache = inputs;
        this.cacheText = text;
      } catch (err) {
        this.log.warn({ err: String(err) }, 'services cache write failed (the rules are loaded still)');
      }
    const started = performance.now();
    const planned = planServiceRules({ cluster: this.ctx.cluster, node: this.ctx.nodeName, ...inputs });
    const planMs = performance.now() - started;
    if (this.readKernel) {
      const first = this.applied === undefined;
      this.applied = await loadedDigest(this.table);
      this.readKernel = false;
      if (first && this.applied === planned.digest)
        this.log.info(
          { table: this.table, digest: planned.digest },
          'service rules as wanted already: the table is left as it is',
        );
    }
    if (planned.digest === this.applied) {
      this.loadedUdp = planned.udp;
      return;
    }
    await loadTable(planned.text);
    this.applied = planned.digest;
    const stale = this.loadedUdp ? staleUdpFlows(this.loadedUdp, planned.udp) : [];
    this.loadedUdp = planned.udp;
    if (stale.length > 0) await this.deleteStaleFlows(stale);
    this.log.info(
      {
        table: this.table,
        digest: planned.digest,
        services: inputs.services.length,
        planMs: Math.round(planMs),
        loadMs: Math.round(performance.now() - started - planMs),
      },
      'service rules loaded',
    );
  }

  /** UDP flows to endpoints that left: deleted, or said once per reason why not (the rules are loaded). */
  private async deleteStaleFlows(stale: StaleFlow[]): Promise<void> {
    try {
      const deleted = await deleteFlows(stale);
      this.lastConntrackError = '';
      if (deleted > 0)
        this.log.info({ deleted, flows: stale.length }, 'stale UDP flows to endpoints that left deleted');
    } catch (err) {
      const why = (err as Error).message;
      if (why !== this.lastConntrackError)
        this.log.warn(
          { err: why },
          'stale UDP flows not deleted: UDP clients may keep sending to an endpoint that left until their flow idles out',
        );
      this.lastConntrackError = why;
    }
  }

  /** From etcd once both informers have listed, else the cache of the last ones, else nothing. */
  private inputs(): ServicesCache | undefined {
    const services = this.services!.informer;
    const slices = this.slices!.informer;
    if (!services.isSynced || !slices.isSynced)
      return this.cache && { ...this.cache, podCidr: this.network.podCidr };
    return {
      podCidr: this.network.podCidr,
      services: services
        .entries()
        .map(([, e]) => trimService(e.value.object as Service))
        .sort((a, b) => (key(a) < key(b) ? -1 : 1)),
      slices: slices
        .entries()
        .map(([, e]) => trimSlice(e.value.object as EndpointSlice))
        .sort((a, b) => (key(a) < key(b) ? -1 : 1)),
    };
  }
}

const key = (o: { metadata: { namespace?: string; name: string } }) =>
  `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
