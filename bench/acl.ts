// bench/acl: what access control costs a request, against one head and a real etcd (no Docker needed).
//   node bench/acl.ts [--requests 500] [--objects 50]
// With ACL off and on, three turns each (a readonly token for reads, an ops-admin token for applies),
// measured from the client: `GET /api/v1/objects/pods` (what `nokube get pods` asks) one at a time, and an apply of N
// ConfigMaps in one request (changed each round, so each writes). Each request with ACL on reads the
// token and its policies from etcd (two small reads): that is the cost shown.
import { parseArgs } from 'node:util';
import { storeConfig } from '../agent/store/config-store.ts';
import { bootstrapAcl, createToken } from '../head/acl/store.ts';
import { createTestCluster, eventually } from '../test/harness/cluster.ts';
import { cleanupOnSignals } from './cleanup.ts';

const { values } = parseArgs({
  options: { requests: { type: 'string', default: '500' }, objects: { type: 'string', default: '50' } },
});
const REQUESTS = Number(values.requests);
const OBJECTS = Number(values.objects);

const c = await createTestCluster({ nodes: 1, net: 94 });
cleanupOnSignals(() => c.stop());
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!;

async function timed(n: number, once: (i: number) => Promise<Response>): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await once(i);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    ms.push(performance.now() - t);
  }
  return ms;
}

async function round(label: string, read?: string, write?: string) {
  const auth = (t?: string): Record<string, string> => (t ? { authorization: `Bearer ${t}` } : {});
  const url = c.headUrl();
  await timed(50, () => fetch(`${url}/api/v1/objects/pods?namespace=default`, { headers: auth(read) }));
  const gets = await timed(REQUESTS, () =>
    fetch(`${url}/api/v1/objects/pods?namespace=default`, { headers: auth(read) }),
  );
  const applies = await timed(20, (i) =>
    fetch(`${url}/api/v1/apply`, {
      method: 'POST',
      headers: { ...auth(write), 'content-type': 'application/json' },
      body: JSON.stringify({
        documents: Array.from({ length: OBJECTS }, (_, j) => ({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: `bench-${j}` },
          data: { round: `${label}-${i}` },
        })),
      }),
    }),
  );
  const f = (x: number) => x.toFixed(2);
  console.log(
    `${label.padEnd(8)} get pods p50 ${f(percentile(gets, 0.5))} ms p95 ${f(percentile(gets, 0.95))} ms | apply ${OBJECTS} p50 ${f(percentile(applies, 0.5))} ms p95 ${f(percentile(applies, 0.95))} ms`,
  );
  return { get: percentile(gets, 0.5), apply: percentile(applies, 0.5) };
}

/** ACL on or off in the stored config; returns once the head answers accordingly. */
async function setAcl(enabled: boolean) {
  await c.withEtcd((etcd) =>
    storeConfig(
      etcd,
      c.configYaml(undefined, `acl:\n  enabled: ${enabled}\n`),
      c.configFile,
      'bench',
      'latest',
    ),
  );
  const want = enabled ? 401 : 200;
  await eventually(
    async () => (await fetch(`${c.headUrl()}/api/v1/nodes`)).status === want,
    15_000,
    'ACL switched',
  );
}

try {
  await c.startAgent('n1');
  await eventually(async () => (await fetch(`${c.headUrl()}/readyz`)).ok, 30_000, 'head ready');
  const { admin, ro } = await c.withEtcd(async (etcd) => {
    const boot = await bootstrapAcl(etcd, c.name);
    const reader = await createToken(etcd, c.name, { name: 'ro', policies: ['readonly'] });
    return { admin: boot.secret, ro: reader.secret };
  });
  // Off and on in turns: the machine's other load falls on both alike.
  const off: Array<{ get: number; apply: number }> = [];
  const on: Array<{ get: number; apply: number }> = [];
  for (let turn = 0; turn < 3; turn++) {
    await setAcl(false);
    off.push(await round('acl off'));
    await setAcl(true);
    on.push(await round('acl on', ro, admin));
  }
  const median = (xs: number[]) => percentile(xs, 0.5);
  const pct = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(0)} %`;
  const [g0, g1] = [median(off.map((r) => r.get)), median(on.map((r) => r.get))];
  const [a0, a1] = [median(off.map((r) => r.apply)), median(on.map((r) => r.apply))];
  console.log(
    `median of the turns' p50: get pods ${g0.toFixed(2)} -> ${g1.toFixed(2)} ms (${pct(g0, g1)}), apply ${OBJECTS} ${a0.toFixed(1)} -> ${a1.toFixed(1)} ms (${pct(a0, a1)})`,
  );
} finally {
  await c.stop();
}
