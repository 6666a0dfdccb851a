// The planned nftables table of Services (agent/services/nft/plan.ts, pure): ClusterIPs spread with
// numgen over ready endpoints, DNAT to each pod's port, NodePorts on the node's addresses, ClientIP
// affinity through dynamic sets, rejects for Services without endpoints, the terminating fallback; and
// the text is one nft transaction the kernel's parser accepts (`nft -c`: checked, nothing loaded).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import type { Endpoint, EndpointSlice, Service } from '../agent/objects/types.ts';
import { planServiceRules, tableName } from '../agent/services/nft/plan.ts';
import { objectMeta } from './harness/object-meta.ts';

const meta = (name: string, labels?: Record<string, string>) => objectMeta(name, labels ? { labels } : {});
const service = (name: string, spec: Service['spec']): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: meta(name),
  spec,
});
const ep = (ip: string, ready = true, extra: Endpoint['conditions'] = {}): Endpoint => ({
  addresses: [ip],
  conditions: { ready, serving: ready, terminating: false, ...extra },
});
const slice = (svc: string, port: number, endpoints: Endpoint[], name = 'http'): EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: meta(`${svc}-x`, { 'kubernetes.io/service-name': svc }),
  addressType: 'IPv4',
  endpoints,
  ports: [{ name, protocol: 'TCP', port }],
});

const SERVICES = [
  service('web', {
    type: 'NodePort',
    clusterIP: '10.43.0.10',
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http', nodePort: 30080 }],
    selector: { app: 'web' },
  }),
  service('sticky', {
    clusterIP: '10.43.0.11',
    sessionAffinity: 'ClientIP',
    sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    selector: { app: 'sticky' },
  }),
  service('empty', {
    clusterIP: '10.43.0.12',
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    selector: { a: 'b' },
  }),
  service('draining', {
    clusterIP: '10.43.0.13',
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    selector: { a: 'c' },
  }),
  service('headless', { clusterIP: 'None', selector: { app: 'db' } }),
];
const SLICES = [
  slice('web', 8080, [ep('10.42.0.5'), ep('10.42.1.6'), ep('10.42.2.7'), ep('10.42.3.8', false)]),
  slice('sticky', 9000, [ep('10.42.0.9'), ep('10.42.1.9')]),
  slice('empty', 80, [ep('10.42.0.20', false)]),
  slice('draining', 80, [ep('10.42.0.30', false, { serving: true, terminating: true })]),
];
const planned = planServiceRules({
  cluster: 'edge',
  node: 'n1',
  services: SERVICES,
  slices: SLICES,
  podCidr: '10.42.0.0/16',
});
const { text } = planned;
const TABLE = tableName('edge', 'n1');

test('one table of our own per cluster and node, replaced in one transaction, its digest in its comment', () => {
  assert.match(TABLE, /^nokube_svc_[0-9a-f]{8}$/);
  assert.notEqual(tableName('edge', 'n2'), TABLE);
  assert.notEqual(tableName('edge2', 'n1'), TABLE);
  assert.equal(planned.table, TABLE);
  assert.ok(
    text.startsWith(
      `add table ip ${TABLE}\ndelete table ip ${TABLE}\ntable ip ${TABLE} {\n  comment "nokube services ${planned.digest}"\n`,
    ),
  );
  assert.equal(text.match(/^table /gm)?.length, 1);
  // The same wish, in another order, is the same table; another wish another digest.
  const again = planServiceRules({
    cluster: 'edge',
    node: 'n1',
    services: [...SERVICES].reverse(),
    slices: [...SLICES].reverse(),
    podCidr: '10.42.0.0/16',
  });
  assert.equal(again.text, text);
  const fewer = planServiceRules({
    cluster: 'edge',
    node: 'n1',
    services: SERVICES.slice(1),
    slices: SLICES,
    podCidr: '10.42.0.0/16',
  });
  assert.notEqual(fewer.digest, planned.digest);
});

test('a ClusterIP is spread with numgen over its ready endpoints, each DNATed to the pod port', () => {
  assert.match(text, /10\.43\.0\.10 \. tcp \. 80 : goto service-\w+-default\/web\/tcp\/http/);
  assert.match(
    text,
    /numgen random mod 3 vmap \{ 0 : goto endpoint-\w+-default\/web\/tcp\/http__10\.42\.0\.5\/8080, 1 : goto [^,]+10\.42\.1\.6\/8080, 2 : goto [^}]+10\.42\.2\.7\/8080 \}/,
  );
  for (const ip of ['10.42.0.5', '10.42.1.6', '10.42.2.7'])
    assert.ok(text.includes(`dnat to ${ip}:8080`), ip);
  assert.ok(!text.includes('10.42.3.8'), 'the unready endpoint gets no traffic');
  assert.match(
    text,
    /ip daddr 10\.43\.0\.10 tcp dport 80 ip saddr != 10\.42\.0\.0\/16 jump mark-for-masquerade/,
  );
});

test("a NodePort goes through its external chain (on the node's own addresses only: masquerade, then the Service chain)", () => {
  assert.match(text, /tcp \. 30080 : goto external-\w+-default\/web\/tcp\/http/);
  assert.match(
    text,
    /chain external-\w+-default\/web\/tcp\/http \{\n {4}fib daddr type != local return\n {4}ip daddr 127\.0\.0\.0\/8 return\n {4}jump mark-for-masquerade\n {4}goto service-\w+-default\/web\/tcp\/http\n/,
  );
  // The port's map first, the FIB lookup only for a packet to a NodePort.
  assert.match(
    text,
    /chain services \{\n {4}ip daddr \. meta l4proto \. th dport vmap @service-ips\n {4}meta l4proto \. th dport vmap @service-nodeports\n/,
  );
});

test('ClientIP affinity: a dynamic set per endpoint with the timeout, checked before numgen, refreshed on use', () => {
  const sets = text.match(
    /set affinity-\w+-\d \{\n {4}type ipv4_addr\n {4}flags dynamic,timeout\n {4}timeout 600s\n/g,
  );
  assert.equal(sets?.length, 2);
  const body = /chain service-\w+-default\/sticky\/tcp\/http \{([\s\S]*?)\n {2}\}/.exec(text)?.[1] ?? '';
  assert.ok(body.indexOf('ip saddr @affinity-') < body.indexOf('numgen random mod 2'), body);
  assert.equal(text.match(/update @affinity-\w+-\d \{ ip saddr \}/g)?.length, 2);
});

test('no ready endpoint: rejected; only terminating serving ones: used as kube-proxy falls back', () => {
  assert.match(text, /10\.43\.0\.12 \. tcp \. 80 : goto reject-chain/);
  assert.ok(!text.includes('10.42.0.20'));
  assert.ok(text.includes('dnat to 10.42.0.30:80'));
  assert.ok(!text.includes('10.43.0.13 . tcp . 80 : goto reject-chain'));
});

test("the kernel's nft parser accepts the table (nft -c: checked, not loaded)", (t) => {
  const nft = spawnSync('nft', ['-c', '-f', '-'], { input: text, encoding: 'utf8' });
  if (nft.error) return t.skip(`nft not runnable: ${nft.error.message}`);
  assert.equal(nft.status, 0, `${nft.stderr}\n${text}`);
  const none = planServiceRules({ cluster: 'edge', node: 'n1', services: [], slices: [] }).text;
  assert.equal(spawnSync('nft', ['-c', '-f', '-'], { input: none, encoding: 'utf8' }).status, 0, none);
});
