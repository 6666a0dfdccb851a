// Run by test/etcd-reach.test.ts inside a host's network namespace: an etcd client (agent/store/etcd.ts)
// that gets a key every 100 ms and prints, every 100 ms, one JSON line: the time, whether its last get
// was answered, its connection's gRPC state, its host's circuit breaker state (cockatiel's CircuitState:
// 0 closed, 1 open, 2 half-open) and how many stalled connection attempts it replaced.
// With a third argument `respect-breaker` it makes no call while the breaker is open (so only the reach
// watch can close it: an open breaker with no calls stays open).
import type { CircuitBreakerPolicy } from 'cockatiel';
import { createEtcd } from '../../agent/store/etcd.ts';
import { poolOf } from '../../agent/store/etcd-faults.ts';
import { etcdReach } from '../../agent/store/etcd-reach.ts';

const OPEN = 1;
const client = await createEtcd({ endpoints: [process.argv[2]!], dialTimeoutMs: 1000 });
const respectBreaker = process.argv[3] === 'respect-breaker';
const reach = etcdReach(client)!;
let ok = false;
setInterval(() => {
  const hosts = poolOf(client).hosts;
  const breaker = (hosts[0]!.faultHandling as CircuitBreakerPolicy).state as number;
  if (!(respectBreaker && breaker === OPEN))
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
  const states = hosts.flatMap((h) =>
    Object.values(h.cachedServices).map((s) => s.getChannel().getConnectivityState(false)),
  );
  process.stdout.write(
    `${JSON.stringify({ t: Date.now(), ok, states, breaker, restarts: reach.restarts })}\n`,
  );
}, 100);
