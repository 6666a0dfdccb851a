// Services against a real etcd: k8s' validation rules (each bad Service with its message, nothing stored),
// the defaults stored, ClusterIP and NodePort allocation inside the apply's transaction (clash, range,
// exhaustion of a tiny serviceCidr, kept on update, freed on delete and with the namespace).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { ApplyError, applyManifests, deleteObject } from '../agent/objects/apply.ts';
import { getObject } from '../agent/objects/store.ts';
import type { Service } from '../agent/objects/types.ts';
import { ManifestError, validateManifestText } from '../agent/objects/validate.ts';
import { storeConfig } from '../agent/store/config-store.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import { columnsFor } from '../head/cli/print/columns.ts';
import { describeText } from '../head/cli/print/describe.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';

const svc = (spec: string, name = 'web', namespace = 'default') => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${namespace}}
spec:
${spec
  .trim()
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
`;

/** Validation failures: each manifest and the one message it must report (after `(Service web): `). */
const BAD: Array<[string, string, string]> = [
  ['no ports', 'selector: {app: web}', 'spec.ports: Required value'],
  [
    'two ports, one unnamed',
    'ports: [{name: http, port: 80}, {port: 81}]',
    'spec.ports[1].name: Required value',
  ],
  [
    'duplicate port names',
    'ports: [{name: http, port: 80}, {name: http, port: 81}]',
    'spec.ports[1].name: Duplicate value: "http"',
  ],
  [
    'a port name that is not a DNS label',
    'ports: [{name: Http_1, port: 80}, {name: b, port: 81}]',
    'spec.ports[0].name: Invalid value: "Http_1": must be a lowercase RFC 1123 label',
  ],
  [
    'the same port and protocol twice',
    'ports: [{name: a, port: 80}, {name: b, port: 80}]',
    'spec.ports[1]: Duplicate value: {"port":80,"protocol":"TCP"}',
  ],
  ['port 0', 'ports: [{port: 0}]', 'spec.ports[0].port: '],
  [
    'a targetPort name too long',
    'ports: [{port: 80, targetPort: abcdefghijklmnop}]',
    'spec.ports[0].targetPort: must be no more than 15 characters',
  ],
  [
    'nodePort on a ClusterIP Service',
    'ports: [{port: 80, nodePort: 30080}]',
    "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
  ],
  [
    'the same nodePort twice',
    'type: NodePort\nports: [{name: a, port: 80, nodePort: 30080}, {name: b, port: 81, nodePort: 30080}]',
    'spec.ports[1].nodePort: Duplicate value: 30080',
  ],
  [
    'clusterIP not an address',
    'clusterIP: 10.43.0.300\nports: [{port: 80}]',
    'spec.clusterIP: Invalid value: "10.43.0.300": must be a valid IPv4 address',
  ],
  [
    'headless NodePort',
    'type: NodePort\nclusterIP: None\nports: [{port: 80}]',
    'spec.clusterIP: Invalid value: "None": may not be set to \'None\' for NodePort services',
  ],
  [
    'clusterIPs not matching clusterIP',
    'clusterIP: 10.43.0.5\nclusterIPs: [10.43.0.6]\nports: [{port: 80}]',
    'spec.clusterIPs[0]: Invalid value: "10.43.0.6": must match `clusterIP` when present',
  ],
  [
    'affinity timeout over a day',
    'sessionAffinity: ClientIP\nsessionAffinityConfig: {clientIP: {timeoutSeconds: 86401}}\nports: [{port: 80}]',
    'spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less than 86400',
  ],
  [
    'affinity config without affinity',
    'sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\nports: [{port: 80}]',
    'spec.sessionAffinityConfig: Invalid value: must not be set when session affinity is None',
  ],
  ['LoadBalancer', 'type: LoadBalancer\nports: [{port: 80}]', 'spec.type: '],
  ['ExternalName without its name', 'type: ExternalName', 'spec.externalName: Required value'],
  [
    'ExternalName not a DNS name',
    'type: ExternalName\nexternalName: "db_primary.example.com"',
    'spec.externalName: Invalid value: "db_primary.example.com": must be a lowercase RFC 1123 subdomain',
  ],
  [
    'ExternalName with a clusterIP',
    'type: ExternalName\nexternalName: db.example.com\nclusterIP: 10.43.0.9',
    'spec.clusterIP: Forbidden: may not be set for ExternalName services',
  ],
  [
    'ExternalName with a nodePort',
    'type: ExternalName\nexternalName: db.example.com\nports: [{port: 80, nodePort: 30080}]',
    "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ExternalName'",
  ],
  ['externalIPs', 'externalIPs: [1.2.3.4]\nports: [{port: 80}]', 'spec.externalIPs: not supported'],
  ['SCTP', 'ports: [{port: 80, protocol: SCTP}]', 'spec.ports[0].protocol: '],
];

describe('Service validation (no etcd)', () => {
  for (const [what, spec, message] of BAD)
    test(`refused: ${what}`, () => {
      assert.throws(
        () => validateManifestText(svc(spec), 'svc.yaml'),
        (err: unknown) => {
          assert.ok(err instanceof ManifestError);
          assert.ok(
            err.problems.some((p) => p.includes(`(Service web): ${message}`)),
            `expected "${message}" in:\n${err.problems.join('\n')}`,
          );
          return true;
        },
      );
    });

  test("a Service's name is a DNS-1035 label (it starts with a letter)", () => {
    assert.throws(
      () => validateManifestText(svc('ports: [{port: 80}]', '1web'), 'svc.yaml'),
      /\(Service 1web\): metadata\.name: Invalid value: "1web": a DNS-1035 label must consist of/,
    );
  });

  test('the examples of the Kubernetes Service docs validate as they are', () => {
    // https://kubernetes.io/docs/concepts/services-networking/service/ (my-service, NodePort, headless).
    const docs = `apiVersion: v1
kind: Service
metadata:
  name: my-service
spec:
  selector:
    app.kubernetes.io/name: MyApp
  ports:
    - name: http
      protocol: TCP
      port: 80
      targetPort: http-web-svc
    - name: https
      protocol: TCP
      port: 443
      targetPort: 9377
---
apiVersion: v1
kind: Service
metadata:
  name: my-nodeport
spec:
  type: NodePort
  selector:
    app.kubernetes.io/name: MyApp
  ports:
    - port: 80
      targetPort: 80
      nodePort: 30007
---
apiVersion: v1
kind: Service
metadata:
  name: my-headless
spec:
  clusterIP: None
  selector:
    app: db
status:
  loadBalancer: {}
`;
    assert.deepEqual(
      validateManifestText(docs, 'docs.yaml').map((m) => m.object.metadata.name),
      ['my-service', 'my-nodeport', 'my-headless'],
    );
  });

  test('an EndpointSlice is refused in a manifest: the controller writes them', () => {
    assert.throws(
      () =>
        validateManifestText(
          'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: x}\naddressType: IPv4\nendpoints: []\n',
          'e.yaml',
        ),
      /EndpointSlices are made by nokube's EndpointSlice controller/,
    );
  });
});

describe('Services in etcd', () => {
  let server: TestEtcd;
  let etcd: Etcd3;
  before(async () => {
    server = await startTestEtcd();
    etcd = await connectEtcd({ endpoints: [server.url], dialTimeoutMs: 3000 });
  });
  after(async () => {
    etcd?.close();
    await server?.stop();
  });

  const apply = (cluster: string, text: string) =>
    applyManifests(etcd, cluster, validateManifestText(text, 'svc.yaml'), 'test');
  const stored = async (cluster: string, name = 'web', namespace = 'default') =>
    (await getObject(etcd, cluster, { kind: 'Service', namespace, name }))?.object as Service | undefined;
  const held = async (prefix: string) =>
    Object.fromEntries(
      Object.entries(await etcd.getAll().prefix(prefix).strings()).map(([k, v]) => [
        k.slice(prefix.length),
        v,
      ]),
    );
  const refused = async (cluster: string, text: string, message: RegExp) => {
    await assert.rejects(apply(cluster, text), (err: unknown) => {
      assert.ok(err instanceof ApplyError, String(err));
      assert.match(err.message, message);
      return true;
    });
  };
  /** A stored cluster config with this network section. */
  const withNetwork = (cluster: string, network: string) =>
    storeConfig(
      etcd,
      `cluster: ${cluster}
etcd: { endpoints: [http://10.0.0.1:2379] }
head: { port: 7480 }
mesh: { port: 7946 }
network: { ${network} }
nodes:
  - { name: a, address: 10.0.0.1, roles: [head], workspace: /w }
`,
      'cluster.yaml',
      'test',
      'latest',
    );

  test("k8s' defaults are stored and a ClusterIP allocated from the default serviceCidr", async () => {
    const c = 'defaults';
    const [r] = await apply(c, svc('selector: {app: web}\nsessionAffinity: ClientIP\nports: [{port: 80}]'));
    assert.equal(r!.action, 'created');
    const s = (await stored(c))!;
    assert.match(s.spec.clusterIP!, /^10\.43\.\d+\.\d+$/);
    assert.deepEqual(s.spec, {
      type: 'ClusterIP',
      clusterIP: s.spec.clusterIP,
      clusterIPs: [s.spec.clusterIP],
      selector: { app: 'web' },
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } },
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
    });
    assert.deepEqual(await held(keys.serviceIpsPrefix(c)), { [s.spec.clusterIP!]: 'default/web' });
    // The same manifest again (no clusterIP): unchanged, the address kept.
    const [again] = await apply(
      c,
      svc('selector: {app: web}\nsessionAffinity: ClientIP\nports: [{port: 80}]'),
    );
    assert.equal(again!.action, 'unchanged');
    // A changed address is refused with k8s' message, nothing written.
    await refused(
      c,
      svc('clusterIP: 10.43.9.9\nselector: {app: web}\nports: [{port: 80}]'),
      /spec\.clusterIPs\[0\]: Invalid value: \["10\.43\.9\.9"\]: may not change once set/,
    );
    assert.equal((await stored(c))!.spec.sessionAffinity, 'ClientIP');
  });

  test('an ExternalName Service: stored without an address or families, holds nothing; no change to or from it in place', async () => {
    const c = 'external';
    const [r] = await apply(c, svc('type: ExternalName\nexternalName: db.example.com\nselector: {app: web}'));
    assert.equal(r!.action, 'created');
    assert.deepEqual((await stored(c))!.spec, {
      type: 'ExternalName',
      externalName: 'db.example.com',
      selector: { app: 'web' },
      sessionAffinity: 'None',
    });
    assert.deepEqual(await held(keys.serviceIpsPrefix(c)), {});
    const [again] = await apply(c, svc('type: ExternalName\nexternalName: db2.example.com'));
    assert.equal(again!.action, 'configured');
    // `describe svc` as kubectl: no address or families, its External Name.
    const described = describeText((await stored(c))!, []);
    assert.match(described, /^IP Families: +<none>$/m);
    assert.match(described, /^IP: +<none>$/m);
    assert.match(described, /^External Name: +db2\.example\.com$/m);
    // `get svc` as kubectl prints it: the name as its external address.
    assert.deepEqual(
      columnsFor('Service', false)
        .row((await stored(c))!)
        .slice(0, 5),
      ['web', 'ExternalName', '<none>', 'db2.example.com', '<none>'],
    );
    await refused(
      c,
      svc('ports: [{port: 80}]'),
      /spec\.type: Invalid value: "ClusterIP": may not change from ExternalName here \(it is ExternalName\); delete and re-create the Service/,
    );
    await apply(c, svc('ports: [{port: 80}]', 'plain'));
    await refused(
      c,
      svc('type: ExternalName\nexternalName: db.example.com', 'plain'),
      /spec\.type: Invalid value: "ExternalName": may not change to ExternalName here \(it is ClusterIP\)/,
    );
  });

  test('an explicit ClusterIP: outside serviceCidr refused, a clash names the holder, nothing applied', async () => {
    const c = 'explicit';
    await withNetwork(c, 'serviceCidr: 10.96.0.0/24');
    await refused(
      c,
      svc('clusterIP: 10.43.0.10\nports: [{port: 80}]'),
      /spec\.clusterIPs: Invalid value: \["10\.43\.0\.10"\]: failed to allocate IP 10\.43\.0\.10: the provided IP \(10\.43\.0\.10\) is not in the valid range\. The range of valid IPs is 10\.96\.0\.0\/24/,
    );
    await apply(c, svc('clusterIP: 10.96.0.10\nports: [{port: 80}]', 'first'));
    assert.equal((await stored(c, 'first'))!.spec.clusterIP, '10.96.0.10');
    // A clash in a two-document apply: neither is written.
    const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: also}\ndata: {a: b}\n';
    await refused(
      c,
      `${cm}---\n${svc('clusterIP: 10.96.0.10\nports: [{port: 80}]', 'second')}`,
      /services "second" in namespace default: spec\.clusterIPs: .*provided IP is already allocated \(to Service default\/first\)/,
    );
    assert.equal(await stored(c, 'second'), undefined);
    assert.equal(await getObject(etcd, c, { kind: 'ConfigMap', namespace: 'default', name: 'also' }), null);
    assert.deepEqual(await held(keys.serviceIpsPrefix(c)), { '10.96.0.10': 'default/first' });
  });

  test('a tiny serviceCidr runs out: "range is full", nothing applied; a delete frees an address', async () => {
    const c = 'tiny';
    await withNetwork(c, 'serviceCidr: 10.96.0.0/30');
    await apply(c, svc('ports: [{port: 80}]', 'a'));
    await apply(c, svc('ports: [{port: 80}]', 'b'));
    assert.deepEqual(Object.keys(await held(keys.serviceIpsPrefix(c))).sort(), ['10.96.0.1', '10.96.0.2']);
    await refused(c, svc('ports: [{port: 80}]', 'c'), /failed to allocate a serviceIP: range is full/);
    assert.equal(await stored(c, 'c'), undefined);
    // Headless Services take no address.
    await apply(c, svc('clusterIP: None\nselector: {app: db}', 'headless'));
    assert.equal((await stored(c, 'headless'))!.spec.clusterIP, 'None');
    const freed = (await stored(c, 'a'))!.spec.clusterIP!;
    await deleteObject(etcd, c, { kind: 'Service', namespace: 'default', name: 'a' });
    assert.equal((await held(keys.serviceIpsPrefix(c)))[freed], undefined);
    await apply(c, svc('ports: [{port: 80}]', 'c'));
    assert.equal((await stored(c, 'c'))!.spec.clusterIP, freed);
  });

  test('NodePorts: allocated in range, kept on update, clash and out of range refused, freed on delete', async () => {
    const c = 'nodeports';
    await withNetwork(c, 'nodePortRange: 30000-30002');
    const two = 'type: NodePort\nports: [{name: http, port: 80}, {name: https, port: 443}]';
    await apply(c, svc(two));
    const first = (await stored(c))!;
    const ports = first.spec.ports!.map((p) => p.nodePort!);
    for (const p of ports) assert.ok(p >= 30000 && p <= 30002, String(p));
    assert.deepEqual(await held(keys.nodePortsPrefix(c)), {
      [ports[0]!]: 'default/web',
      [ports[1]!]: 'default/web',
    });
    assert.equal(first.spec.externalTrafficPolicy, 'Cluster');
    // Re-applied without nodePorts: unchanged; with one port removed: its port freed, the other kept.
    assert.equal((await apply(c, svc(two)))[0]!.action, 'unchanged');
    await apply(c, svc('type: NodePort\nports: [{name: https, port: 443}]'));
    assert.deepEqual(await held(keys.nodePortsPrefix(c)), { [ports[1]!]: 'default/web' });
    assert.equal((await stored(c))!.spec.ports![0]!.nodePort, ports[1]);
    // Another Service asking for the held port: refused naming the holder.
    await refused(
      c,
      svc(`type: NodePort\nports: [{port: 80, nodePort: ${ports[1]}}]`, 'other'),
      new RegExp(
        `spec\\.ports\\[0\\]\\.nodePort: Invalid value: ${ports[1]}: provided port is already allocated \\(to Service default/web\\)`,
      ),
    );
    await refused(
      c,
      svc('type: NodePort\nports: [{port: 80, nodePort: 31000}]', 'other'),
      /spec\.ports\[0\]\.nodePort: Invalid value: 31000: provided port is not in the valid range\. The range of valid ports is 30000-30002/,
    );
    // Two more fit, a third does not.
    await apply(c, svc('type: NodePort\nports: [{name: a, port: 1}, {name: b, port: 2}]', 'more'));
    await refused(
      c,
      svc('type: NodePort\nports: [{port: 80}]', 'full'),
      /failed to allocate a nodePort: range is full/,
    );
    assert.equal(await stored(c, 'other'), undefined);
    // Back to ClusterIP: the ports are freed in the same transaction.
    await apply(c, svc('ports: [{name: https, port: 443}]'));
    assert.equal(Object.values(await held(keys.nodePortsPrefix(c))).includes('default/web'), false);
    await deleteObject(etcd, c, { kind: 'Service', namespace: 'default', name: 'more' });
    assert.deepEqual(await held(keys.nodePortsPrefix(c)), {});
  });

  test("a namespace delete frees its Services' addresses and ports, and only theirs", async () => {
    const c = 'nsdelete';
    await apply(c, 'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n');
    await apply(c, svc('type: NodePort\nports: [{port: 80}]', 'cart', 'shop'));
    await apply(c, svc('clusterIP: None\nselector: {a: b}', 'db', 'shop'));
    await apply(c, svc('ports: [{port: 80}]', 'keep'));
    const keep = (await stored(c, 'keep'))!.spec.clusterIP!;
    assert.equal(Object.keys(await held(keys.serviceIpsPrefix(c))).length, 2);
    await deleteObject(etcd, c, { kind: 'Namespace', name: 'shop' });
    assert.deepEqual(await held(keys.serviceIpsPrefix(c)), { [keep]: 'default/keep' });
    assert.deepEqual(await held(keys.nodePortsPrefix(c)), {});
  });
});
