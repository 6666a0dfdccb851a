// `nokube top` and the console read these: nodes with their CPU, memory and network, pods with their CPU
// and memory, from the latest telemetry summaries (TopStore).

import { compareText } from '../text/compare.ts';
import type { NodeSummary } from './summary.ts';

export interface TopNode {
  node: string;
  /** When the figures were sampled (Unix ms). */
  at: number;
  cpuCores: number;
  cpuRatio: number;
  cores: number;
  load1: number;
  memoryBytes: number;
  memoryTotalBytes: number;
  rxBytesPerSecond: number;
  txBytesPerSecond: number;
  pods: number;
}

export interface TopPod {
  namespace: string;
  pod: string;
  node: string;
  containers: number;
  cpuCores: number;
  memoryBytes: number;
}

export function topNodes(summaries: NodeSummary[]): TopNode[] {
  return summaries.map((s) => ({
    node: s.node,
    at: s.at,
    cpuCores: s.cpu.ratio * s.cpu.cores,
    cpuRatio: s.cpu.ratio,
    cores: s.cpu.cores,
    load1: s.load1,
    memoryBytes: s.memory.usedBytes,
    memoryTotalBytes: s.memory.totalBytes,
    rxBytesPerSecond: s.network.rxBytesPerSecond,
    txBytesPerSecond: s.network.txBytesPerSecond,
    pods: s.pods.length,
  }));
}

export function topPods(summaries: NodeSummary[], namespace?: string): TopPod[] {
  const out: TopPod[] = [];
  for (const s of summaries)
    for (const p of s.pods) if (!namespace || p.namespace === namespace) out.push({ ...p, node: s.node });
  return out.sort((a, b) => compareText(a.namespace, b.namespace) || compareText(a.pod, b.pod));
}
