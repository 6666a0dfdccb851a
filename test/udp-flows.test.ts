// Which UDP flows a Service rules load leaves stale (agent/services/proxy/conntrack.ts), pure; and the
// plan's UDP ports (agent/services/nft/plan.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EndpointSlice, Service } from '../agent/objects/types.ts';
import { planServiceRules } from '../agent/services/nft/plan.ts';
import { conntrackArgs, staleUdpFlows } from '../agent/services/proxy/conntrack.ts';
import { objectMeta } from './harness/object-meta.ts';

test('an endpoint that leaves a UDP port: its flows to the ClusterIP and to the NodePort; a port gone: all its endpoints', () => {
  const before = [
    { clusterIP: '10.43.0.10', port: 53, nodePort: 30053, endpoints: ['10.42.0.5', '10.42.0.6'] },
    { clusterIP: '10.43.0.11', port: 514, endpoints: ['10.42.0.7'] },
    { clusterIP: '10.43.0.12', port: 123, endpoints: ['10.42.0.8'] },
  ];
  const after = [
    { clusterIP: '10.43.0.10', port: 53, nodePort: 30053, endpoints: ['10.42.0.6', '10.42.0.9'] },
    { clusterIP: '10.43.0.12', port: 123, endpoints: ['10.42.0.8'] },
  ];
  assert.deepEqual(staleUdpFlows(before, after), [
    { clusterIP: '10.43.0.10', port: 53, endpoint: '10.42.0.5' },
    { port: 30053, endpoint: '10.42.0.5' },
    { clusterIP: '10.43.0.11', port: 514, endpoint: '10.42.0.7' },
  ]);
  assert.deepEqual(staleUdpFlows(after, after), []);
  assert.deepEqual(conntrackArgs({ clusterIP: '10.43.0.10', port: 53, endpoint: '10.42.0.5' }), [
    '-D',
    '-p',
    'udp',
    '--orig-dst',
    '10.43.0.10',
    '--orig-port-dst',
    '53',
    '--dst-nat',
    '10.42.0.5',
  ]);
  assert.deepEqual(conntrackArgs({ port: 30053, endpoint: '10.42.0.5' }), [
    '-D',
    '-p',
    'udp',
    '--orig-port-dst',
    '30053',
    '--dst-nat',
    '10.42.0.5',
  ]);
});

test("the plan's UDP ports: the ready endpoints' addresses; TCP ports are not among them", () => {
  const svc: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta('dns'),
    spec: {
      clusterIP: '10.43.0.10',
      type: 'NodePort',
      ports: [
        { name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353, nodePort: 30053 },
        { name: 'dns-tcp', protocol: 'TCP', port: 53, targetPort: 5353, nodePort: 30054 },
      ],
    },
  };
  const slice: EndpointSlice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: objectMeta('dns-abcde', { labels: { 'kubernetes.io/service-name': 'dns' } }),
    addressType: 'IPv4',
    endpoints: [
      { addresses: ['10.42.0.5'], conditions: { ready: true } },
      { addresses: ['10.42.0.6'], conditions: { ready: false } },
    ],
    ports: [
      { name: 'dns', protocol: 'UDP', port: 5353 },
      { name: 'dns-tcp', protocol: 'TCP', port: 5353 },
    ],
  };
  const planned = planServiceRules({ cluster: 'c', node: 'n', services: [svc], slices: [slice] });
  assert.deepEqual(planned.udp, [
    { clusterIP: '10.43.0.10', port: 53, nodePort: 30053, endpoints: ['10.42.0.5'] },
  ]);
});
