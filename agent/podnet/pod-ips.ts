// The pods' addresses on this node: allocated from the node subnet (the first address is the gateway's,
// the last the broadcast), kept in the workspace so a restarted agent gives a running pod the same one,
// released when the pod is gone. With each address, the pod's host ports (the nftables table is made
// from this file at start, before etcd answers).
import { join } from 'node:path';
import { addressAt, cidrContains, cidrSize } from '../net/cidr.ts';
import { readIfPresent, writeAtomic } from '../state/config-cache.ts';
import type { HostPortRule } from './ruleset.ts';

export const podIpsPath = (workspace: string) => join(workspace, 'agent', 'pod-ips.json');

export interface PodAddress {
  ip: string;
  /** namespace/name, for people reading the file. */
  pod: string;
  hostPorts: HostPortRule[];
}

interface PodIpsFile {
  subnet: string;
  /** By pod uid. */
  pods: Record<string, PodAddress>;
}

export class PodIps {
  private readonly file: string;
  private readonly subnet: string;
  private pods: Record<string, PodAddress> = {};
  private writing: Promise<void> = Promise.resolve();

  constructor(workspace: string, subnet: string) {
    this.file = podIpsPath(workspace);
    this.subnet = subnet;
  }

  /** Read the file; addresses outside the subnet (another subnet before) are dropped. */
  async load(): Promise<void> {
    const text = await readIfPresent(this.file);
    if (!text) return;
    const data = JSON.parse(text) as PodIpsFile;
    for (const [uid, a] of Object.entries(data.pods)) if (cidrContains(this.subnet, a.ip)) this.pods[uid] = a;
  }

  get(uid: string): PodAddress | undefined {
    return this.pods[uid];
  }

  entries(): Array<[string, PodAddress]> {
    return Object.entries(this.pods);
  }

  /** The pod's address (its own if it has one), with its host ports as given; saved before it returns. */
  async allocate(uid: string, pod: string, hostPorts: (ip: string) => HostPortRule[]): Promise<PodAddress> {
    const have = this.pods[uid];
    const ip = have?.ip ?? this.free();
    const next = { ip, pod, hostPorts: hostPorts(ip) };
    if (!have || JSON.stringify(have) !== JSON.stringify(next)) {
      this.pods[uid] = next;
      await this.save();
    }
    return next;
  }

  async release(uid: string): Promise<PodAddress | undefined> {
    const have = this.pods[uid];
    if (!have) return undefined;
    delete this.pods[uid];
    await this.save();
    return have;
  }

  private free(): string {
    const used = new Set(Object.values(this.pods).map((a) => a.ip));
    for (let i = 2; i < cidrSize(this.subnet) - 1; i++) {
      const ip = addressAt(this.subnet, i);
      if (!used.has(ip)) return ip;
    }
    throw new Error(`the node's pod subnet ${this.subnet} has no free address (${used.size} pods)`);
  }

  private save(): Promise<void> {
    const text = JSON.stringify({ subnet: this.subnet, pods: this.pods } satisfies PodIpsFile, null, 1);
    this.writing = this.writing.then(() => writeAtomic(this.file, text));
    return this.writing;
  }
}
