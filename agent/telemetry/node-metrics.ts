// The node's samples and the export pipelines as Prometheus gauges (names in the README, "Metrics").
// Sample gauges are rewritten whole on every sample (label sets come and go with interfaces, mounts and
// containers); export gauges are read at collect time.
import { Gauge, type Registry } from 'prom-client';
import type { ExportTotals } from '../context.ts';
import type { NodeSample } from './sample.ts';

export interface ExportStatsSource {
  pipeline: 'metrics' | 'logs';
  stats(): ExportTotals | undefined;
}

export class NodeMetrics {
  private readonly cpu: Gauge;
  private readonly core: Gauge;
  private readonly load: Gauge;
  private readonly memory: Gauge;
  private readonly swap: Gauge;
  private readonly rx: Gauge;
  private readonly tx: Gauge;
  private readonly fs: Gauge;
  private readonly ctCpu: Gauge;
  private readonly ctMem: Gauge;
  private readonly ctLimit: Gauge;

  constructor(registry: Registry, exports: ExportStatsSource[], etcdLatency: () => number | undefined) {
    const g = (name: string, help: string, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers: [registry] });
    this.cpu = g(
      'nokube_node_cpu_usage_ratio',
      'Busy fraction of all CPU cores (0..1) over the last interval.',
    );
    this.core = g('nokube_node_cpu_core_usage_ratio', 'Busy fraction of one core (0..1).', ['core']);
    this.load = g('nokube_node_load', 'Load average.', ['period']);
    this.memory = g('nokube_node_memory_bytes', 'Memory: total, used (total - available), available.', [
      'kind',
    ]);
    this.swap = g('nokube_node_swap_bytes', 'Swap: total, used.', ['kind']);
    this.rx = g(
      'nokube_node_network_receive_bytes_per_second',
      'Bytes received per second over the last interval, per interface and all.',
      ['interface'],
    );
    this.tx = g(
      'nokube_node_network_transmit_bytes_per_second',
      'Bytes sent per second over the last interval, per interface and all.',
      ['interface'],
    );
    this.fs = g('nokube_node_filesystem_bytes', 'Filesystem size and used bytes per mount.', [
      'mount',
      'device',
      'kind',
    ]);
    const ct = ['namespace', 'pod', 'container'];
    this.ctCpu = g(
      'nokube_container_cpu_cores',
      'CPU used by a pod container, in cores, over the last interval.',
      ct,
    );
    this.ctMem = g(
      'nokube_container_memory_bytes',
      'Memory of a pod container (without inactive page cache).',
      ct,
    );
    this.ctLimit = g(
      'nokube_container_memory_limit_bytes',
      'Memory limit of a pod container that has one.',
      ct,
    );
    const perPipeline = (name: string, help: string, pick: (s: ExportTotals) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['pipeline'],
        registers: [registry],
        collect() {
          this.reset();
          for (const e of exports) {
            const s = e.stats();
            if (s) this.set({ pipeline: e.pipeline }, pick(s));
          }
        },
      });
    perPipeline(
      'nokube_export_queue_bytes',
      'Bytes waiting to be sent (memory + disk spool), per pipeline.',
      (s) => s.queuedBytes,
    );
    perPipeline(
      'nokube_export_sent_total',
      'Items (samples, log records) the endpoint accepted since the agent started, per pipeline.',
      (s) => s.sentItems,
    );
    new Gauge({
      name: 'nokube_export_dropped_total',
      help: 'Items dropped since the agent started, per pipeline and reason (overflow: over a buffer bound; malformed: refused by GreptimeDB as malformed; unreadable: spool file lost). Anything else is kept and retried.',
      labelNames: ['pipeline', 'reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const e of exports) {
          const s = e.stats();
          if (!s) continue;
          for (const [reason, n] of Object.entries(s.dropped)) this.set({ pipeline: e.pipeline, reason }, n);
        }
      },
    });
    new Gauge({
      name: 'nokube_etcd_request_seconds',
      help: "Round trip of the agent's last etcd lease keepalive (absent before the first).",
      registers: [registry],
      collect() {
        this.reset();
        const v = etcdLatency();
        if (v !== undefined) this.set(v);
      },
    });
  }

  /** Rewrite the sample gauges from one sample. */
  update(s: NodeSample): void {
    this.cpu.set(s.cpu.total);
    this.core.reset();
    s.cpu.cores.forEach((r, i) => {
      this.core.set({ core: String(i) }, r);
    });
    this.load.set({ period: '1m' }, s.load[0]);
    this.load.set({ period: '5m' }, s.load[1]);
    this.load.set({ period: '15m' }, s.load[2]);
    this.memory.set({ kind: 'total' }, s.memory.totalBytes);
    this.memory.set({ kind: 'used' }, s.memory.usedBytes);
    this.memory.set({ kind: 'available' }, s.memory.availableBytes);
    this.swap.set({ kind: 'total' }, s.swap.totalBytes);
    this.swap.set({ kind: 'used' }, s.swap.usedBytes);
    this.rx.reset();
    this.tx.reset();
    let rx = 0;
    let tx = 0;
    for (const n of s.network) {
      this.rx.set({ interface: n.iface }, n.rxBytesPerSecond);
      this.tx.set({ interface: n.iface }, n.txBytesPerSecond);
      rx += n.rxBytesPerSecond;
      tx += n.txBytesPerSecond;
    }
    this.rx.set({ interface: 'all' }, rx);
    this.tx.set({ interface: 'all' }, tx);
    this.fs.reset();
    for (const d of s.disks) {
      this.fs.set({ mount: d.mount, device: d.device, kind: 'size' }, d.sizeBytes);
      this.fs.set({ mount: d.mount, device: d.device, kind: 'used' }, d.usedBytes);
    }
    this.ctCpu.reset();
    this.ctMem.reset();
    this.ctLimit.reset();
    for (const c of s.containers) {
      const labels = { namespace: c.namespace, pod: c.pod, container: c.container };
      this.ctCpu.set(labels, c.cpuCores);
      this.ctMem.set(labels, c.memoryBytes);
      if (c.memoryLimitBytes !== undefined) this.ctLimit.set(labels, c.memoryLimitBytes);
    }
  }
}
