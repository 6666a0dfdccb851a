// This node's pod subnet: a /nodeMaskSize block of network.podCidr, recorded in etcd as
// `network/subnets/<node>` and kept in the workspace, so an agent that starts cut off from etcd has the
// same one (its pods keep their addresses). Claimed once in one transaction with the block's owner key
// (both created only if absent: two nodes never hold one block); the leading head frees it once the node
// is gone from the config (head/controllers/pod-subnets.ts).
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import type { NetworkConfig } from '../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import { cidrContains, formatCidr, parseCidr, subnetAt, subnetCount } from '../net/cidr.ts';
import { readIfPresent, writeAtomic } from '../state/config-cache.ts';
import { logEtcdFailure } from '../store/etcd.ts';
import { keyLeaf, keys } from '../store/keys.ts';

export const subnetCachePath = (workspace: string) => join(workspace, 'agent', 'pod-subnet.json');

/** The value of `network/subnets/<node>`. */
export interface SubnetRecord {
  cidr: string;
}

/** Why a block cannot be this cluster's node subnet (podCidr or nodeMaskSize changed under it). */
export function subnetMismatch(
  cidr: string,
  net: Pick<NetworkConfig, 'podCidr' | 'nodeMaskSize'>,
): string | undefined {
  let block: ReturnType<typeof parseCidr>;
  try {
    block = parseCidr(cidr);
  } catch (err) {
    return (err as Error).message;
  }
  if (block.prefix !== net.nodeMaskSize || !cidrContains(net.podCidr, block))
    return `${cidr} is not a /${net.nodeMaskSize} of network.podCidr ${net.podCidr}`;
  return undefined;
}

/** The node's subnet from etcd, claimed when it has none (`prefer` first when free: the cached one).
 * Throws when the pod CIDR is full or the recorded block does not fit the config. */
export async function claimSubnet(
  etcd: Etcd3,
  cluster: string,
  node: string,
  net: Pick<NetworkConfig, 'podCidr' | 'nodeMaskSize'>,
  prefer?: string,
): Promise<string> {
  const key = keys.networkSubnet(cluster, node);
  for (let attempt = 0; attempt < 16; attempt++) {
    const recorded = await etcd.get(key).string();
    if (recorded !== null) {
      const { cidr } = JSON.parse(recorded) as SubnetRecord;
      const wrong = subnetMismatch(cidr, net);
      if (wrong)
        throw new Error(
          `node ${node}'s pod subnet in etcd: ${wrong} (changing podCidr or nodeMaskSize under running nodes is not supported)`,
        );
      return cidr;
    }
    const owners = await etcd.getAll().prefix(keys.networkSubnetOwnersPrefix(cluster)).keys();
    const taken = new Set(owners.map((k) => keyLeaf(k).replace('-', '/')));
    const cidr = pickFree(net, taken, prefer);
    if (!cidr)
      throw new Error(
        `network.podCidr ${net.podCidr} has no free /${net.nodeMaskSize} left for node ${node} (${taken.size} taken)`,
      );
    const owner = keys.networkSubnetOwner(cluster, cidr);
    const res = await etcd
      .if(key, 'Create', '==', 0)
      .and(owner, 'Create', '==', 0)
      .then(etcd.put(key).value(JSON.stringify({ cidr } satisfies SubnetRecord)), etcd.put(owner).value(node))
      .commit();
    if (res.succeeded) return cidr;
    // Another node took that block (or this node's key appeared): read again.
  }
  throw new Error(`node ${node}: could not claim a pod subnet (too many concurrent claims)`);
}

/** The first free block of the pod CIDR, `prefer` when it is free and fits. */
export function pickFree(
  net: Pick<NetworkConfig, 'podCidr' | 'nodeMaskSize'>,
  taken: ReadonlySet<string>,
  prefer?: string,
): string | undefined {
  if (prefer && !taken.has(prefer) && !subnetMismatch(prefer, net)) return prefer;
  const count = subnetCount(net.podCidr, net.nodeMaskSize);
  for (let i = 0; i < count; i++) {
    const cidr = formatCidr(subnetAt(net.podCidr, net.nodeMaskSize, i));
    if (!taken.has(cidr)) return cidr;
  }
  return undefined;
}

export interface NodeSubnetOptions {
  etcd: Etcd3;
  cluster: string;
  node: string;
  network: Pick<NetworkConfig, 'podCidr' | 'nodeMaskSize'>;
  workspace: string;
  log: Logger;
}

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 10_000;

/**
 * This node's subnet: the cached one at once when it fits the config (confirmed in etcd in the background:
 * recorded again when it was lost), else claimed from etcd, retried at a back-off while etcd does not
 * answer. `ready()` resolves once it is known.
 */
export class NodeSubnet {
  private value: string | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters: Array<(cidr: string) => void> = [];
  private readonly opts: NodeSubnetOptions;

  constructor(opts: NodeSubnetOptions) {
    this.opts = opts;
  }

  /** The block, once known. */
  get(): string | undefined {
    return this.value;
  }

  /** Resolves with the block once it is known. */
  ready(): Promise<string> {
    if (this.value) return Promise.resolve(this.value);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async start(): Promise<void> {
    const { workspace, network, log } = this.opts;
    const text = await readIfPresent(subnetCachePath(workspace));
    const cached = text ? (JSON.parse(text) as SubnetRecord).cidr : undefined;
    if (cached && !subnetMismatch(cached, network)) {
      this.settle(cached);
    } else if (cached) {
      log.warn(
        { cidr: cached },
        `cached pod subnet no longer fits the config: ${subnetMismatch(cached, network)}`,
      );
    }
    // In the background: an agent cut off from etcd starts at once (with the cached block, or its pods on
    // the pod network waiting for one).
    void this.attempt(cached, RETRY_FIRST_MS);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async attempt(prefer: string | undefined, delayMs: number): Promise<void> {
    if (this.stopped) return;
    const { etcd, cluster, node, network, workspace, log } = this.opts;
    try {
      const cidr = await claimSubnet(etcd, cluster, node, network, this.value ?? prefer);
      if (this.value && this.value !== cidr) {
        // Never renumber running pods under them: keep ours, say so loudly.
        log.error(
          { cached: this.value, recorded: cidr },
          'pod subnet in etcd differs from the one this node uses: keeping the one in use',
        );
        return;
      }
      if (!this.value) log.info({ cidr }, 'pod subnet claimed');
      await writeAtomic(subnetCachePath(workspace), JSON.stringify({ cidr } satisfies SubnetRecord));
      this.settle(cidr);
    } catch (err) {
      if (this.stopped) return;
      logEtcdFailure(log, err, { node }, 'pod subnet claim failed; retrying');
      this.timer = setTimeout(() => void this.attempt(prefer, Math.min(delayMs * 2, RETRY_MAX_MS)), delayMs);
      this.timer.unref();
    }
  }

  private settle(cidr: string): void {
    if (this.value) return;
    this.value = cidr;
    for (const w of this.waiters.splice(0)) w(cidr);
  }
}
