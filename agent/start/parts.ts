// Start step 6: the parts, started one after the other in the order given and stopped in reverse. A part
// that fails to start stops those started before it (quietly: the start's error is the one that matters).
import type { AgentContext, AgentPart } from '../context.ts';

export interface StartedParts {
  /** Each part's stop failure goes to `failed`; the others are stopped still. */
  stop(failed: (err: unknown, part: string) => void): Promise<void>;
}

export async function startParts(ctx: AgentContext, parts: AgentPart[]): Promise<StartedParts> {
  const started: Array<{ name: string; stop(): Promise<void> }> = [];
  const stop: StartedParts['stop'] = async (failed) => {
    for (const p of started.reverse()) await p.stop().catch((err) => failed(err, p.name));
  };
  try {
    for (const part of parts) {
      const running = await part.start(ctx);
      if (running) started.push({ name: part.name, stop: () => running.stop() });
    }
  } catch (err) {
    await stop(() => undefined);
    throw err;
  }
  return { stop };
}
