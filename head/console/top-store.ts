// The head's live view of every node: the latest telemetry summary per node, from the mesh (and from its
// own agent directly). Summaries older than STALE_MS are dropped (a node that stopped reporting is not
// shown as if it were idle). Feeds /api/v1/top/*, its WebSocket, the console and `nokube top`.
import { EventEmitter } from 'node:events';
import type { AgentContext } from '../../agent/context.ts';
import type { NodeSample } from '../../agent/telemetry/sample.ts';
import { type NodeSummary, nodeSummary, SUMMARY_TOPIC, summarize } from '../../agent/telemetry/summary.ts';
import { compareText } from '../../agent/text/compare.ts';

export const STALE_MS = 120_000;
/** A summary bigger than this is a broken or hostile peer. */
const MAX_BYTES = 256 * 1024;

export class TopStore extends EventEmitter<{ update: [NodeSummary] }> {
  private readonly latest = new Map<string, NodeSummary>();
  private readonly ctx: AgentContext;
  dropped = 0;
  private readonly onSample = (s: NodeSample) => this.put(summarize(s));

  constructor(ctx: AgentContext) {
    super();
    this.ctx = ctx;
  }

  start(): void {
    const decoder = new TextDecoder();
    this.ctx.mesh.headsTopic(SUMMARY_TOPIC, (data, from) => {
      if (data.byteLength > MAX_BYTES) {
        this.dropped++;
        return;
      }
      try {
        const parsed = nodeSummary.safeParse(JSON.parse(decoder.decode(data)));
        // First-hand only: the peer that handed it over must be the node it describes.
        if (parsed.success && this.ctx.mesh.table.get(parsed.data.node)?.peerId === from)
          this.put(parsed.data);
        else this.dropped++;
      } catch {
        this.dropped++;
      }
    });
    this.ctx.events.on('telemetry', this.onSample);
  }

  stop(): void {
    this.ctx.events.off('telemetry', this.onSample);
  }

  private put(s: NodeSummary): void {
    const prev = this.latest.get(s.node);
    if (prev && prev.at >= s.at) return;
    this.latest.set(s.node, s);
    this.emit('update', s);
  }

  /** The fresh summaries, by node name. */
  nodes(now = Date.now()): NodeSummary[] {
    const out: NodeSummary[] = [];
    for (const [name, s] of this.latest) {
      if (now - s.at > STALE_MS) this.latest.delete(name);
      else out.push(s);
    }
    return out.sort((a, b) => compareText(a.node, b.node));
  }
}
