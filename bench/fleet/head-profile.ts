// A CPU profile of the head while the fleet bench measures (`--profile-head FILE`): the head is started
// with `--inspect` on a loopback port; the V8 profiler is driven over the inspector's WebSocket. The
// profile is written for Chrome DevTools, and the functions with the most self time are printed.
import { writeFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export class HeadProfiler {
  private ws!: WebSocket;
  private nextId = 1;
  private readonly pending = new Map<number, (result: unknown) => void>();

  private readonly port: number;

  constructor(port: number) {
    this.port = port;
  }

  /** The NODE_OPTIONS value that makes the head listen for the profiler. */
  get nodeOptions(): string {
    return `--inspect=127.0.0.1:${this.port}`;
  }

  async connect(): Promise<void> {
    const [target] = (await (await fetch(`http://127.0.0.1:${this.port}/json/list`)).json()) as Array<{
      webSocketDebuggerUrl: string;
    }>;
    if (!target) throw new Error(`no inspector target on port ${this.port}`);
    this.ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise<void>((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.ws.onerror = () => reject(new Error('inspector WebSocket failed'));
    });
    this.ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data)) as { id?: number; result?: unknown };
      if (msg.id !== undefined) this.pending.get(msg.id)?.(msg.result);
    };
    await this.call('Profiler.enable');
    await this.call('Profiler.setSamplingInterval', { interval: 500 });
  }

  start(): Promise<unknown> {
    return this.call('Profiler.start');
  }

  /** Stop, write the profile to `file`, print the `top` functions by self time. */
  async stop(file: string, top = 30): Promise<void> {
    const { profile } = (await this.call('Profiler.stop')) as { profile: Profile };
    await writeFile(file, JSON.stringify(profile));
    const self = new Map<string, number>();
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    profile.samples.forEach((id, i) => {
      const f = byId.get(id)!.callFrame;
      const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\//, '')}:${f.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
    });
    const total = [...self.values()].reduce((a, b) => a + b, 0);
    console.log(`  head profile (${file}), ${(total / 1e6).toFixed(2)} s sampled; most self time:`);
    for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`    ${(us / 1e3).toFixed(0).padStart(6)} ms  ${k}`);
    this.ws.close();
  }

  private call(method: string, params?: unknown): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }
}
