// Fault injectors for the fault suite. Each fault is noted in the recorder's history the moment it is
// done, and remembered, so restoreAll() can undo whatever a failed scenario left (thaw, heal, restart).
import { execFileSync } from 'node:child_process';
import { LABEL } from '../../../agent/runtime/labels.ts';
import { freezeProcess } from '../frozen.ts';
import type { FaultCluster } from './cluster.ts';
import type { Recorder } from './recorder.ts';

const IP = '/usr/sbin/ip';
export const ETCD = 'etcd';

export class Faults {
  private readonly frozen = new Set<string>();
  private readonly cut = new Set<string>();
  /** Agents killed or stopped and not started again. */
  private readonly down = new Set<string>();
  private etcdDown = false;
  private readonly fc: FaultCluster;
  private readonly rec: Recorder;

  constructor(fc: FaultCluster, rec: Recorder) {
    this.fc = fc;
    this.rec = rec;
  }

  /** SIGSTOP of a node's agent or of etcd: a hung process, a paused VM. Noted once every thread is stopped. */
  async freeze(target: string): Promise<void> {
    this.frozen.add(target);
    await freezeProcess(this.process(target).pid!);
    this.rec.note('freeze', target, `SIGSTOP ${target}`);
  }

  thaw(target: string): void {
    this.process(target).kill('SIGCONT');
    this.frozen.delete(target);
    this.rec.note('thaw', target, `SIGCONT ${target}`);
  }

  /** SIGKILL of an agent: its containers stay, as after a crash. */
  async killAgent(node: string): Promise<void> {
    const since = performance.now();
    await this.fc.c.agents.get(node)!.kill('SIGKILL');
    this.down.add(node);
    this.rec.note('kill', node, `SIGKILL agent ${node}`, since);
  }

  /** SIGTERM of an agent, waited for: a clean stop. */
  async stopAgent(node: string): Promise<void> {
    // Impaired from the signal on: a stopping agent resigns and its answers may lag the handover.
    const since = performance.now();
    const code = await this.fc.c.agents.get(node)!.kill('SIGTERM');
    this.down.add(node);
    this.rec.note('stop', node, `SIGTERM agent ${node} (exit ${code})`, since);
  }

  async startAgent(node: string): Promise<void> {
    await this.fc.c.startAgent(node);
    this.down.delete(node);
    this.rec.note('start', node, `agent ${node} started`);
  }

  /** SIGKILL of etcd; startEtcd() brings it back on the same data dir and port. */
  async killEtcd(): Promise<void> {
    const { process: child } = this.fc.c.etcd;
    const exited = new Promise((r) => child.once('exit', r));
    const since = performance.now();
    child.kill('SIGKILL');
    await exited;
    this.etcdDown = true;
    this.rec.note('kill', ETCD, 'SIGKILL etcd', since);
  }

  async startEtcd(): Promise<void> {
    await this.fc.c.etcd.resume();
    this.etcdDown = false;
    this.rec.note('start', ETCD, 'etcd started on its data dir');
  }

  /** The host's link goes down on the root side: its packets are dropped (not refused) both ways. */
  cutOff(node: string): void {
    execFileSync(IP, ['link', 'set', this.fc.host(node).veth, 'down']);
    this.cut.add(node);
    this.rec.note('cut', node, `link of ${node} down`);
  }

  heal(node: string): void {
    execFileSync(IP, ['link', 'set', this.fc.host(node).veth, 'up']);
    this.cut.delete(node);
    this.rec.note('heal', node, `link of ${node} up`);
  }

  /** A reboot while cut off: link down, agent killed, every container of the node stopped (a reboot
   * leaves them stopped, not removed), then the agent started again with etcd and the heads out of reach. */
  async rebootCutOff(node: string): Promise<void> {
    this.cutOff(node);
    await this.killAgent(node);
    const { docker, c } = this.fc;
    const list = await docker.listContainers({
      filters: { label: [`${LABEL.cluster}=${c.name}`, `${LABEL.node}=${node}`] },
    });
    await Promise.all(list.map((ct) => docker.getContainer(ct.Id).stop({ t: 2 })));
    this.rec.note('reboot', node, `${node} rebooted: ${list.length} containers stopped`);
    await this.startAgent(node);
  }

  /** Undo every fault still in place (a scenario that failed half-way). */
  async restoreAll(): Promise<void> {
    for (const t of [...this.frozen]) this.thaw(t);
    for (const n of [...this.cut]) this.heal(n);
    if (this.etcdDown) await this.startEtcd();
    for (const n of [...this.down]) await this.startAgent(n);
  }

  private process(target: string) {
    return target === ETCD ? this.fc.c.etcd.process : this.fc.c.agents.get(target)!.process;
  }
}
