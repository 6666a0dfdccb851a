// bench/services: the cost of programming Services in the kernel, as an agent does it
// (agent/services/proxy): N Services with E endpoints each planned (agent/services/nft/plan.ts) and
// loaded with `nft -f -` into a scratch network namespace (root; nothing of the host's is touched).
//   node bench/services.ts [--services 1000] [--endpoints 3] [--rounds 5]
// Prints, as medians over the rounds: the plan (in the event loop), the first load (no table yet), a
// replace after one endpoint changed (the whole table again, one transaction), a replace with the same
// rules, the digest read of a restarted agent (`nft -t list table`) and the table's text size.
// kube-proxy's nftables mode (the anchor) programs the same layout; its figure is not measured here.
import { execFile } from 'node:child_process';
import { parseArgs } from 'node:util';
import type { EndpointSlice, Service } from '../agent/objects/types.ts';
import { planServiceRules } from '../agent/services/nft/plan.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '1000' },
    endpoints: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
  },
});
const N = Number(values.services);
const E = Number(values.endpoints);
const ROUNDS = Number(values.rounds);
const ns = `nkb-svc-bench-${process.pid}`;

function run(file: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { maxBuffer: 256 << 20, encoding: 'utf8' }, (err, out, stderr) =>
      err ? reject(new Error(`${file} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(out),
    );
    child.stdin?.end(input ?? '');
  });
}
const nft = (args: string[], input?: string) => run('ip', ['netns', 'exec', ns, 'nft', ...args], input);

function inputs(changed: number) {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < N; i++) {
    const name = `svc-${i}`;
    const meta = {
      name,
      namespace: 'default',
      uid: name,
      resourceVersion: '1',
      generation: 1,
      creationTimestamp: '',
    };
    services.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta,
      spec: {
        type: i % 10 === 0 ? 'NodePort' : 'ClusterIP',
        clusterIP: `10.96.${i >> 8}.${i & 255}`,
        ports: [
          { name: 'http', port: 80, protocol: 'TCP', ...(i % 10 === 0 ? { nodePort: 30000 + i } : {}) },
        ],
        selector: { app: name },
      },
    });
    slices.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { ...meta, name: `${name}-x`, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
      endpoints: Array.from({ length: E }, (_, e) => ({
        addresses: [`10.${100 + e}.${i >> 8}.${(i & 255) + (i === 0 ? changed : 0)}`],
        conditions: { ready: true, serving: true, terminating: false },
      })),
    });
  }
  return { services, slices };
}

const time = async (fn: () => unknown) => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};

await run('ip', ['netns', 'add', ns]);
try {
  const rows: Record<string, number[]> = { plan: [], first: [], changed: [], same: [], digest: [] };
  let size = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const a = inputs(0);
    const b = inputs(1);
    let planned = planServiceRules({ cluster: 'bench', node: 'n1', ...a, podCidr: '10.100.0.0/14' });
    rows.plan!.push(
      await time(() => {
        planned = planServiceRules({ cluster: 'bench', node: 'n1', ...a, podCidr: '10.100.0.0/14' });
      }),
    );
    size = planned.text.length;
    await nft(['-f', '-'], `add table ip ${planned.table}\ndelete table ip ${planned.table}\n`);
    rows.first!.push(await time(() => nft(['-f', '-'], planned.text)));
    const next = planServiceRules({ cluster: 'bench', node: 'n1', ...b, podCidr: '10.100.0.0/14' });
    rows.changed!.push(await time(() => nft(['-f', '-'], next.text)));
    rows.same!.push(await time(() => nft(['-f', '-'], next.text)));
    rows.digest!.push(await time(() => nft(['-t', 'list', 'table', 'ip', next.table])));
  }
  console.log(`${N} Services x ${E} endpoints (every 10th a NodePort), ${ROUNDS} rounds, medians:`);
  console.log(`  table text           ${(size / 1024).toFixed(0)} KiB`);
  for (const [what, label] of [
    ['plan', 'plan (event loop)'],
    ['first', 'first load'],
    ['changed', 'replace, 1 endpoint changed'],
    ['same', 'replace, same rules'],
    ['digest', 'digest read (restart)'],
  ] as const)
    console.log(`  ${label.padEnd(28)} ${median(rows[what]!).toFixed(0)} ms`);
} finally {
  await run('ip', ['netns', 'del', ns]).catch(() => undefined);
}
