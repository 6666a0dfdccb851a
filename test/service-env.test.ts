// The kubelet's Service environment variables, on the env builder (agent/pods/resolve.ts): the
// namespace's Services with a ClusterIP, k8s' names and values, headless ones left out, a container's own
// env first, $(VAR) expansion of them, and enableServiceLinks: false.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod, Service } from '../agent/objects/types.ts';
import { type Lookup, resolveEnv } from '../agent/pods/resolve.ts';
import { objectMeta } from './harness/object-meta.ts';

const service = (name: string, namespace: string, spec: Service['spec']): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: objectMeta(name, { namespace }),
  spec,
});
const SERVICES = [
  service('redis-primary', 'shop', {
    clusterIP: '10.43.0.11',
    ports: [{ port: 6379, protocol: 'TCP', targetPort: 6379 }],
  }),
  service('web', 'shop', {
    clusterIP: '10.43.0.10',
    ports: [
      { name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 },
      { name: 'dns-udp', port: 53, protocol: 'UDP', targetPort: 53 },
    ],
  }),
  service('db', 'shop', { clusterIP: 'None', selector: { app: 'db' } }),
  service('elsewhere', 'other', { clusterIP: '10.43.0.99', ports: [{ port: 1, protocol: 'TCP' }] }),
];
const lookup: Lookup = {
  configMap: () => undefined,
  secret: () => undefined,
  services: (ns) => SERVICES.filter((s) => s.metadata.namespace === ns),
};
const pod = (extra: Partial<Pod['spec']> = {}): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'p',
    namespace: 'shop',
    uid: 'u',
    resourceVersion: '1',
    generation: 1,
    creationTimestamp: '',
  },
  spec: { containers: [{ name: 'c', image: 'x' }], ...extra },
});

test("a container gets the kubelet's variables for its namespace's ClusterIP Services", () => {
  const p = pod();
  assert.deepEqual(resolveEnv(p, p.spec.containers[0]!, lookup, '10.0.0.1'), [
    'REDIS_PRIMARY_SERVICE_HOST=10.43.0.11',
    'REDIS_PRIMARY_SERVICE_PORT=6379',
    'REDIS_PRIMARY_PORT=tcp://10.43.0.11:6379',
    'REDIS_PRIMARY_PORT_6379_TCP=tcp://10.43.0.11:6379',
    'REDIS_PRIMARY_PORT_6379_TCP_PROTO=tcp',
    'REDIS_PRIMARY_PORT_6379_TCP_PORT=6379',
    'REDIS_PRIMARY_PORT_6379_TCP_ADDR=10.43.0.11',
    'WEB_SERVICE_HOST=10.43.0.10',
    'WEB_SERVICE_PORT=80',
    'WEB_SERVICE_PORT_HTTP=80',
    'WEB_SERVICE_PORT_DNS_UDP=53',
    'WEB_PORT=tcp://10.43.0.10:80',
    'WEB_PORT_80_TCP=tcp://10.43.0.10:80',
    'WEB_PORT_80_TCP_PROTO=tcp',
    'WEB_PORT_80_TCP_PORT=80',
    'WEB_PORT_80_TCP_ADDR=10.43.0.10',
    'WEB_PORT_53_UDP=udp://10.43.0.10:53',
    'WEB_PORT_53_UDP_PROTO=udp',
    'WEB_PORT_53_UDP_PORT=53',
    'WEB_PORT_53_UDP_ADDR=10.43.0.10',
  ]);
});

test("the container's own env wins, and may use the Services' variables in $(VAR)", () => {
  const p = pod();
  const c = {
    name: 'c',
    image: 'x',
    env: [
      { name: 'WEB_SERVICE_HOST', value: 'mine' },
      { name: 'URL', value: 'http://$(REDIS_PRIMARY_SERVICE_HOST):$(REDIS_PRIMARY_SERVICE_PORT)/' },
    ],
  };
  const env = resolveEnv(p, c, lookup, '10.0.0.1');
  assert.ok(env.includes('WEB_SERVICE_HOST=mine'));
  assert.ok(env.includes('URL=http://10.43.0.11:6379/'));
  assert.equal(env.filter((e) => e.startsWith('WEB_SERVICE_HOST=')).length, 1);
});

test('enableServiceLinks: false gives no Service variables', () => {
  const p = pod({ enableServiceLinks: false });
  assert.deepEqual(resolveEnv(p, p.spec.containers[0]!, lookup, '10.0.0.1'), []);
});
