// DNS on a node with a pod network: the node resolver (server.ts) on the node's pod gateway address,
// port 53, answering the cluster domain from the zone (zone-source.ts) and forwarding the rest to the
// host's resolvers (host-resolv.ts); and each pod's /etc/resolv.conf (resolv-conf.ts), written in the pod's
// directory of the workspace and bind-mounted read-only in each of its containers (as the kubelet's
// runtime does; the containers join the sandbox's network namespace but get their own mounts).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { Gauge, type Registry } from 'prom-client';
import type { NetworkConfig } from '../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import type { EventRecorder } from '../objects/events.ts';
import type { Pod } from '../objects/types.ts';
import { HostResolv } from './host-resolv.ts';
import { formatResolvConf, podResolvConf } from './resolv-conf.ts';
import { type DnsResult, DnsServer } from './server.ts';
import { ZoneSource } from './zone-source.ts';

/** A resolver that could not listen (the address not up yet, port 53 taken) tries again this often. */
const LISTEN_RETRY_MS = 10_000;
export const DNS_PORT = 53;
const QUERIES_METRIC = 'nokube_dns_queries_total';

export interface NodeDnsDeps {
  etcd: Etcd3;
  cluster: string;
  workspace: string;
  network: NetworkConfig;
  recorder: EventRecorder;
  log: Logger;
  /** The agent's registry: `nokube_dns_queries_total`. */
  metrics: Registry;
  /** The node resolver's address once the node's pod subnet is known (its gateway). */
  gateway(): string | undefined;
  /** Resolves once the node's gateway device holds the gateway address. */
  bridgeUp(): Promise<void>;
}

/** What a pod actor needs: the file to bind at /etc/resolv.conf, or why not yet. */
export type PodResolv = { file: string } | { reason: string; message: string };

export class NodeDns {
  private readonly deps: NodeDnsDeps;
  private readonly zone: ZoneSource;
  private readonly host: HostResolv;
  private server: DnsServer | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private failing = false;
  private readonly counts: Record<DnsResult, number> = {
    cluster: 0,
    nxdomain: 0,
    forwarded: 0,
    servfail: 0,
    error: 0,
  };

  constructor(deps: NodeDnsDeps) {
    this.deps = deps;
    this.zone = new ZoneSource(deps);
    this.host = new HostResolv(deps.network.resolvConf, deps.log);
    const counts = this.counts;
    deps.metrics.removeSingleMetric(QUERIES_METRIC);
    new Gauge({
      name: QUERIES_METRIC,
      help: 'Queries the node resolver answered since start, by result (cluster: from the zone; nxdomain: a name of the cluster domain that does not exist; forwarded: the upstream answer; servfail: no upstream answer in time, or too many forwards in flight; error: a malformed or unsupported message).',
      labelNames: ['result'],
      registers: [deps.metrics],
      collect() {
        for (const [result, n] of Object.entries(counts)) this.set({ result }, n);
      },
    });
  }

  async start(): Promise<void> {
    await this.zone.start();
    void this.deps.bridgeUp().then(
      () => this.listen(),
      () => this.listenLater(),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.server?.close();
    await this.zone.stop();
  }

  /** The pod's resolv.conf (written where it differs), for its containers' /etc/resolv.conf. */
  async resolvConf(pod: Pod, dir: string): Promise<PodResolv> {
    const { conf, warnings } = podResolvConf(pod, {
      clusterDomain: this.deps.network.clusterDomain,
      nameserver: this.deps.gateway() ?? '',
      host: await this.host.get(),
    });
    // Only a pod that names the node resolver waits for its address (a hostNetwork pod with Default not).
    if (conf.nameservers.includes(''))
      return { reason: 'ContainerCreating', message: "waiting for the node's pod subnet (etcd)" };
    const file = join(dir, 'resolv.conf');
    const text = formatResolvConf(conf);
    if ((await readFile(file, 'utf8').catch(() => undefined)) !== text) {
      await mkdir(dir, { recursive: true });
      await writeFile(file, text);
      const ref = {
        kind: 'Pod' as const,
        namespace: pod.metadata.namespace ?? 'default',
        name: pod.metadata.name,
      };
      for (const w of warnings) this.deps.recorder.warning(ref, 'DNSConfigForming', w);
    }
    return { file };
  }

  private async listen(): Promise<void> {
    const address = this.deps.gateway();
    if (this.stopped || !address) return this.listenLater();
    const server = new DnsServer({
      address,
      port: DNS_PORT,
      domain: this.deps.network.clusterDomain,
      zone: () => this.zone.zone(),
      upstreams: () => this.host.upstreams(),
      log: this.deps.log,
      count: (result) => {
        this.counts[result]++;
      },
    });
    try {
      await server.listen();
    } catch (err) {
      // Said once (then at debug level) until it listens.
      this.deps.log[this.failing ? 'debug' : 'error'](
        { err: String(err), address, port: DNS_PORT },
        `the node resolver cannot listen; trying again every ${LISTEN_RETRY_MS / 1000} s`,
      );
      this.failing = true;
      return this.listenLater();
    }
    this.failing = false;
    if (this.stopped) return void server.close();
    this.server = server;
    this.deps.log.info({ address, port: DNS_PORT }, 'node resolver listening (UDP and TCP)');
  }

  private listenLater(): void {
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      void this.deps.bridgeUp().then(
        () => this.listen(),
        () => this.listenLater(),
      );
    }, LISTEN_RETRY_MS);
  }
}
