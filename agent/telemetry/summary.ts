// A compact summary of each NodeSample, sent straight to the heads (mesh heads topic `telemetry/1`) for the web
// console and `nokube top`: a few hundred bytes per node per interval, pods aggregated from their
// containers, bounded in count. Heads validate what they receive and keep the latest per node.
import { z } from 'zod';
import type { AgentContext, AgentPart } from '../context.ts';
import type { NodeSample } from './sample.ts';

export const SUMMARY_TOPIC = 'telemetry/1';
/** Pods per summary at most (the busiest first); a bigger node is summarised by its top pods. */
export const MAX_PODS = 300;

const num = z.number().finite().nonnegative();
export const nodeSummary = z.object({
  node: z.string().min(1).max(63),
  at: num,
  cpu: z.object({ ratio: z.number().min(0).max(1), cores: z.number().int().positive().max(4096) }),
  load1: num,
  memory: z.object({ totalBytes: num, usedBytes: num }),
  network: z.object({ rxBytesPerSecond: num, txBytesPerSecond: num }),
  pods: z
    .array(
      z.object({
        namespace: z.string().max(63),
        pod: z.string().max(253),
        containers: z.number().int().nonnegative(),
        cpuCores: num,
        memoryBytes: num,
      }),
    )
    .max(MAX_PODS),
});
export type NodeSummary = z.infer<typeof nodeSummary>;

export function summarize(s: NodeSample): NodeSummary {
  const pods = new Map<string, NodeSummary['pods'][number]>();
  for (const c of s.containers) {
    const id = `${c.namespace}/${c.pod}`;
    const p = pods.get(id) ?? {
      namespace: c.namespace,
      pod: c.pod,
      containers: 0,
      cpuCores: 0,
      memoryBytes: 0,
    };
    p.containers++;
    p.cpuCores += c.cpuCores;
    p.memoryBytes += c.memoryBytes;
    pods.set(id, p);
  }
  return {
    node: s.node,
    at: s.at,
    cpu: { ratio: s.cpu.total, cores: Math.max(1, s.cpu.cores.length) },
    load1: s.load[0],
    memory: { totalBytes: s.memory.totalBytes, usedBytes: s.memory.usedBytes },
    network: {
      rxBytesPerSecond: s.network.reduce((n, i) => n + i.rxBytesPerSecond, 0),
      txBytesPerSecond: s.network.reduce((n, i) => n + i.txBytesPerSecond, 0),
    },
    pods: [...pods.values()].sort((a, b) => b.cpuCores - a.cpuCores).slice(0, MAX_PODS),
  };
}

/** Every agent: send the summary of each sample to the heads. */
export const summaryPart: AgentPart = {
  name: 'telemetry-summary',
  async start(ctx: AgentContext) {
    const publish = ctx.mesh.headsTopic(SUMMARY_TOPIC);
    const encoder = new TextEncoder();
    const onSample = (s: NodeSample) => publish(encoder.encode(JSON.stringify(summarize(s))));
    ctx.events.on('telemetry', onSample);
    return {
      async stop() {
        ctx.events.off('telemetry', onSample);
      },
    };
  },
};
