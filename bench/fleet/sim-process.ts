// The simulated agents (sim-agents.ts) as a process of their own, started by bench/fleet.ts, so that the
// bench can give them their own share of the machine's CPU (they stand for agents on other hosts) and so
// that their loop does not delay the bench's own observation of the binding. Talks over the IPC channel:
// `registered` once every node record is written, then `progress` every 200 ms (pods reported Running, the
// time of the last such report, what was sent); on `stop` it revokes its leases and exits.
//   node bench/fleet/sim-process.ts '<SimProcessArgs as JSON>'
import { connectEtcd } from '../../agent/store/etcd.ts';
import { SimFleet, type SimOptions } from './sim-agents.ts';

export interface SimProcessArgs extends SimOptions {
  etcd: string;
  cluster: string;
}

export type SimMessage =
  | { type: 'registered'; ms: number }
  | {
      type: 'progress';
      running: number;
      lastRunningAt: number;
      cpuSeconds: number;
      sent: SimFleet['sent'];
    };

const args = JSON.parse(process.argv[2] ?? '') as SimProcessArgs;
const send = (m: SimMessage) => process.send!(m);
const etcd = await connectEtcd({ endpoints: [args.etcd], dialTimeoutMs: 5000 });
const fleet = new SimFleet(etcd, args.cluster, args);
process.on('message', (m: { type: string }) => {
  if (m.type !== 'stop') return;
  void fleet
    .stop()
    .catch(() => undefined)
    .finally(() => {
      etcd.close();
      process.exit(0);
    });
});
process.on('disconnect', () => process.exit(1));
const t = Date.now();
await fleet.start();
send({ type: 'registered', ms: Date.now() - t });
setInterval(() => {
  const { user, system } = process.cpuUsage();
  send({
    type: 'progress',
    running: fleet.runningAt.size,
    lastRunningAt: fleet.lastRunningAt,
    cpuSeconds: (user + system) / 1e6,
    sent: fleet.sent,
  });
}, 200);
