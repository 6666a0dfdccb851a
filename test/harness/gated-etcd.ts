// An etcd client whose range reads can be held: the answer is read from etcd, then kept until release().
// Forces the interleaving "read before a change, applied after it" that races otherwise hit by chance.
import type { Etcd3 } from 'etcd3';

export interface GatedEtcd {
  client: Etcd3;
  /** From now on, every getAll answer waits for release(). */
  hold(): void;
  release(): void;
  /** getAll answers held so far. */
  held(): number;
}

export function gatedEtcd(base: Etcd3): GatedEtcd {
  let gate: Promise<void> | null = null;
  let open = () => {};
  let held = 0;
  const client = Object.create(base) as Etcd3;
  client.getAll = () => {
    const b = base.getAll();
    for (const m of ['exec', 'strings', 'keys'] as const) {
      const orig = b[m].bind(b) as () => Promise<unknown>;
      (b as unknown as Record<string, unknown>)[m] = async () => {
        const res = await orig();
        if (gate) {
          held++;
          await gate;
        }
        return res;
      };
    }
    return b;
  };
  return {
    client,
    hold: () => {
      gate = new Promise<void>((r) => {
        open = r;
      });
    },
    release: () => {
      gate = null;
      open();
    },
    held: () => held,
  };
}
