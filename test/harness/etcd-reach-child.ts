// Run by test/etcd-reach.test.ts inside a host's network namespace: an etcd client (agent/store/etcd.ts)
// that gets a key every 100 ms and prints, every 100 ms, one JSON line: the time, whether its last get
// was answered, its connection's gRPC state and how many stalled connection attempts it replaced.
import { createEtcd } from '../../agent/store/etcd.ts';
import { poolOf } from '../../agent/store/etcd-faults.ts';
import { etcdReach } from '../../agent/store/etcd-reach.ts';

const client = await createEtcd({ endpoints: [process.argv[2]!], dialTimeoutMs: 1000 });
const reach = etcdReach(client)!;
let ok = false;
setInterval(() => {
  client
    .get('reach')
    .string()
    .then(
      () => {
        ok = true;
      },
      () => {
        ok = false;
      },
    );
  const states = poolOf(client).hosts.flatMap((h) =>
    Object.values(h.cachedServices).map((s) => s.getChannel().getConnectivityState(false)),
  );
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ok, states, restarts: reach.restarts })}\n`);
}, 100);
