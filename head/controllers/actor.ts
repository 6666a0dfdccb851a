// One controller actor per Deployment/DaemonSet/Job: reconciles when kicked (watch hints, resync),
// one reconcile at a time, kicks during a reconcile coalesced into one more. A reconcile that throws is
// retried with back-off (1 s doubling to 30 s). While it runs, the actor keeps an alive record
// `alive/<ns>/<kind>-<name>` under the head's lease.
import type { AgentContext } from '../../agent/context.ts';
import { logEtcdFailure } from '../../agent/store/etcd.ts';

const KICK_DELAY_MS = 50;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30_000;

export class ControllerActor {
  readonly uid: string;
  private dirty = false;
  private running = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private restUntil = 0;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt: number | undefined;
  private readonly ctx: AgentContext;
  private readonly namespace: string;
  private readonly path: string;
  private readonly reconcile: () => Promise<void>;
  private readonly keepAlive: boolean;

  constructor(
    ctx: AgentContext,
    at: { namespace: string; kind: string; name: string; uid: string },
    reconcile: () => Promise<void>,
    keepAlive = true,
  ) {
    this.ctx = ctx;
    this.uid = at.uid;
    this.namespace = at.namespace;
    this.path = `${at.kind.toLowerCase()}-${at.name}`;
    this.reconcile = reconcile;
    this.keepAlive = keepAlive;
    if (keepAlive)
      ctx.alive.set(this.namespace, this.path, {
        node: ctx.nodeName,
        actor: at.kind.toLowerCase(),
        since: new Date().toISOString(),
        uid: at.uid,
      });
  }

  kick(): void {
    if (this.stopped) return;
    this.dirty = true;
    if (this.running || this.timer) return;
    this.timer = setTimeout(() => void this.run(), Math.max(KICK_DELAY_MS, this.restUntil - Date.now()));
  }

  /** The next run starts no sooner than `ms` from now. A reconcile that planned for `t` ms asks for a rest
   * of a few times `t`: under a storm of kicks (thousands of pods created or reporting at once) its
   * planning, which grows with the pods, takes a bounded share of the loop instead of all of it. */
  rest(ms: number): void {
    this.restUntil = Math.max(this.restUntil, Date.now() + ms);
  }

  /** Kick at `at` (ms since the epoch); only the earliest pending wake is kept. */
  kickAt(at: number): void {
    if (this.stopped) return;
    if (this.wakeAt !== undefined && this.wakeAt <= at) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeAt = undefined;
        this.kick();
      },
      Math.max(0, at - Date.now()),
    );
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.wakeTimer);
    // Its own record only: its pods' records below its path are theirs (some may run on this node).
    if (this.keepAlive) this.ctx.alive.delete(this.namespace, this.path);
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    this.running = true;
    try {
      while (this.dirty && !this.stopped && Date.now() >= this.restUntil) {
        this.dirty = false;
        await this.reconcile();
        this.failures = 0;
      }
    } catch (err) {
      this.failures++;
      const delay = Math.min(BACKOFF_FIRST_MS * 2 ** (this.failures - 1), BACKOFF_MAX_MS);
      logEtcdFailure(
        this.ctx.log,
        err,
        { actor: `${this.namespace}/${this.path}`, retryInMs: delay },
        'controller reconcile failed',
      );
      this.dirty = true;
      if (!this.stopped) this.timer = setTimeout(() => void this.run(), delay);
    } finally {
      this.running = false;
    }
    if (this.dirty && !this.stopped && !this.timer)
      this.timer = setTimeout(() => void this.run(), Math.max(KICK_DELAY_MS, this.restUntil - Date.now()));
  }
}
