// What an agent measures each monitoring interval: the node, and the containers of its pods. The sampler
// emits one NodeSample on the agent's event bus ('telemetry'); the metrics writer, the mesh summary (web
// console, `nokube top`) and /metrics all read the same figures.

export interface NodeSample {
  /** Unix ms when the sample was taken. */
  at: number;
  node: string;
  cpu: {
    /** Busy fraction of all cores, 0..1. */
    total: number;
    /** Busy fraction per core, 0..1, in core order. */
    cores: number[];
  };
  /** 1, 5 and 15 minute load averages. */
  load: [number, number, number];
  memory: { totalBytes: number; usedBytes: number; availableBytes: number };
  swap: { totalBytes: number; usedBytes: number };
  /** Per interface (loopback excluded), bytes per second since the previous sample. */
  network: Array<{ iface: string; rxBytesPerSecond: number; txBytesPerSecond: number }>;
  /** Mounted filesystems (pseudo filesystems excluded). */
  disks: Array<{ mount: string; device: string; sizeBytes: number; usedBytes: number }>;
  containers: ContainerSample[];
}

export interface ContainerSample {
  /** Docker container id. */
  id: string;
  namespace: string;
  pod: string;
  container: string;
  /** CPU used since the previous sample, in cores (1 = one full core). */
  cpuCores: number;
  memoryBytes: number;
  /** The container's memory limit, when it has one. */
  memoryLimitBytes?: number;
}
