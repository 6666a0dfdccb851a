// The node resolver's pure parts (agent/dns): the zone from Services and EndpointSlices, the answers of
// the cluster domain (ClusterIP, headless endpoints, pod hostnames, SRV, NODATA vs NXDOMAIN, forward of
// everything else, the names a pod's search path makes), the resolv.conf per dnsPolicy as the kubelet
// forms it, the pod spec's DNS rules, and the EndpointSlice controller's endpoint hostname.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type LookupResult, lookup, TTL_SECONDS } from '../agent/dns/lookup.ts';
import {
  formatResolvConf,
  parseResolvConf,
  podResolvConf,
  type ResolvConf,
} from '../agent/dns/resolv-conf.ts';
import { buildZone, Zone } from '../agent/dns/zone.ts';
import type { EndpointSlice, Pod, Service } from '../agent/objects/types.ts';
import { ManifestError, validateManifestText } from '../agent/objects/validate.ts';
import { desiredSlices } from '../head/controllers/endpointslices.ts';
import { objectMeta } from './harness/object-meta.ts';

const DOMAIN = 'cluster.local';
const service = (name: string, namespace: string, spec: Service['spec']): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: objectMeta(name, { namespace }),
  spec,
});
const slice = (
  svc: string,
  namespace: string,
  endpoints: EndpointSlice['endpoints'],
  ports = [{ name: 'peer', protocol: 'TCP' as const, port: 7000 }],
): EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: objectMeta(`${svc}-abcde`, { namespace, labels: { 'kubernetes.io/service-name': svc } }),
  addressType: 'IPv4',
  endpoints,
  ports,
});
const zone = new Zone(
  buildZone(
    [
      service('web', 'default', {
        clusterIP: '10.43.0.10',
        ports: [
          { name: 'http', port: 80, protocol: 'TCP' },
          { name: 'dns', port: 53, protocol: 'UDP' },
          { port: 9000 },
        ],
      }),
      service('db', 'shop', { clusterIP: 'None', selector: { app: 'db' } }),
      service('empty', 'shop', { clusterIP: 'None', selector: { app: 'none' } }),
    ],
    [
      slice('db', 'shop', [
        { addresses: ['10.42.0.5'], conditions: { ready: true }, hostname: 'db-0' },
        { addresses: ['10.42.1.7'], conditions: {} },
        { addresses: ['10.42.1.8'], conditions: { ready: false }, hostname: 'db-2' },
      ]),
      // Not a Service's slice: left out.
      { ...slice('x', 'shop', []), metadata: objectMeta('x', { namespace: 'shop' }) },
    ],
  ),
);
const ask = (name: string, type = 'A') => lookup(zone, DOMAIN, { name, type });
const rrs = (r: LookupResult) => {
  assert.ok(!r.forward, 'answered, not forwarded');
  return r.answers.map(
    (a) => `${a.name} ${a.type} ${typeof a.data === 'string' ? a.data : JSON.stringify(a.data)}`,
  );
};
const rcode = (r: LookupResult) => (r.forward ? 'forward' : `${r.rcode}${r.answers.length ? '' : ' empty'}`);

test('a ClusterIP Service: its address, any case, with or without the root dot; TTL 5 s', () => {
  for (const name of ['web.default.svc.cluster.local', 'WEB.Default.SVC.cluster.LOCAL.'])
    assert.deepEqual(rrs(ask(name)), [`${name.replace(/\.$/, '')} A 10.43.0.10`]);
  const r = ask('web.default.svc.cluster.local');
  assert.ok(!r.forward && r.answers[0]!.ttl === TTL_SECONDS && TTL_SECONDS === 5);
  // It exists, with no IPv6 address: NODATA (an empty NOERROR with the SOA), never NXDOMAIN.
  const aaaa = ask('web.default.svc.cluster.local', 'AAAA');
  assert.equal(rcode(aaaa), 'NOERROR empty');
  assert.ok(!aaaa.forward && aaaa.authorities[0]?.type === 'SOA');
});

test('a headless Service: its ready endpoints; a pod by its hostname or dashed address', () => {
  assert.deepEqual(rrs(ask('db.shop.svc.cluster.local')), [
    'db.shop.svc.cluster.local A 10.42.0.5',
    'db.shop.svc.cluster.local A 10.42.1.7',
  ]);
  assert.deepEqual(rrs(ask('db-0.db.shop.svc.cluster.local')), [
    'db-0.db.shop.svc.cluster.local A 10.42.0.5',
  ]);
  assert.deepEqual(rrs(ask('10-42-1-7.db.shop.svc.cluster.local')), [
    '10-42-1-7.db.shop.svc.cluster.local A 10.42.1.7',
  ]);
  // Not ready: not in the answers, its name does not exist.
  assert.equal(rcode(ask('db-2.db.shop.svc.cluster.local')), 'NXDOMAIN empty');
  // No ready endpoint: the name exists, with no address.
  assert.equal(rcode(ask('empty.shop.svc.cluster.local')), 'NOERROR empty');
  // A ClusterIP Service has no endpoint names.
  assert.equal(rcode(ask('x.web.default.svc.cluster.local')), 'NXDOMAIN empty');
});

test('SRV: per named port and protocol; every named port on the Service name; unnamed ports have none', () => {
  assert.deepEqual(rrs(ask('_http._tcp.web.default.svc.cluster.local', 'SRV')), [
    '_http._tcp.web.default.svc.cluster.local SRV {"priority":0,"weight":100,"port":80,"target":"web.default.svc.cluster.local"}',
  ]);
  const srv = ask('_dns._udp.web.default.svc.cluster.local', 'SRV');
  assert.ok(!srv.forward);
  assert.deepEqual(
    srv.additionals.map((a) => `${a.name} ${a.data}`),
    ['web.default.svc.cluster.local 10.43.0.10'],
  );
  assert.equal(rcode(ask('_dns._tcp.web.default.svc.cluster.local', 'SRV')), 'NXDOMAIN empty');
  assert.equal(rcode(ask('_http._tcp.web.default.svc.cluster.local', 'A')), 'NOERROR empty');
  assert.equal(rrs(ask('web.default.svc.cluster.local', 'SRV')).length, 2);
  // Headless: one record per ready endpoint, targets their names, addresses in the additional section.
  const db = ask('_peer._tcp.db.shop.svc.cluster.local', 'SRV');
  assert.deepEqual(rrs(db), [
    '_peer._tcp.db.shop.svc.cluster.local SRV {"priority":0,"weight":50,"port":7000,"target":"db-0.db.shop.svc.cluster.local"}',
    '_peer._tcp.db.shop.svc.cluster.local SRV {"priority":0,"weight":50,"port":7000,"target":"10-42-1-7.db.shop.svc.cluster.local"}',
  ]);
  assert.ok(!db.forward && db.additionals.length === 2);
});

test('NXDOMAIN for what the cluster domain does not hold, NODATA for its inner names, forward for the rest', () => {
  const cases: Array<[string, string]> = [
    ['nope.default.svc.cluster.local', 'NXDOMAIN empty'],
    ['web.nons.svc.cluster.local', 'NXDOMAIN empty'],
    ['web.default.pod.cluster.local', 'NXDOMAIN empty'],
    ['10-42-0-256.default.pod.cluster.local', 'NXDOMAIN empty'],
    ['default.pod.cluster.local', 'NOERROR empty'],
    ['a.b.c.d.web.default.svc.cluster.local', 'NXDOMAIN empty'],
    ['default.svc.cluster.local', 'NOERROR empty'],
    ['nons.svc.cluster.local', 'NXDOMAIN empty'],
    ['svc.cluster.local', 'NOERROR empty'],
    ['cluster.local', 'NOERROR empty'],
    ['example.com', 'forward'],
    // Label boundaries: not the cluster domain.
    ['xcluster.local', 'forward'],
    ['web.default.svc.cluster.local.example.com', 'forward'],
  ];
  for (const [name, want] of cases) assert.equal(rcode(ask(name)), want, name);
  assert.deepEqual(
    rrs(ask('cluster.local', 'SOA')).map((r) => r.split(' ')[1]),
    ['SOA'],
  );
});

test('the names a pod search path makes (ndots:5): the right one answers, the others are NXDOMAIN at once', () => {
  const search = ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example'];
  /** What a stub resolver asks in turn for `name`, until an answer (glibc/musl with ndots:5; the host's
   * search domain is corp.example, which the upstream does not know). */
  const resolve = (name: string) => {
    const tried: string[] = [];
    const dots = name.split('.').length - 1;
    const candidates = name.endsWith('.')
      ? [name]
      : dots >= 5
        ? [name, ...search.map((s) => `${name}.${s}`)]
        : [...search.map((s) => `${name}.${s}`), name];
    for (const c of candidates) {
      const r = ask(c);
      tried.push(`${c}:${rcode(r)}`);
      if (!r.forward && r.answers.length > 0) return { tried, answer: rrs(r)[0]!.split(' ').at(-1) };
    }
    // Forwarded names are taken as unknown upstream (NXDOMAIN there): the last one tried was forwarded.
    return { tried, answer: tried.at(-1)?.endsWith(':forward') ? 'forwarded' : undefined };
  };
  assert.equal(resolve('web').answer, '10.43.0.10');
  assert.equal(resolve('web').tried.length, 1);
  const two = resolve('web.default');
  assert.deepEqual(two.tried, [
    'web.default.default.svc.cluster.local:NXDOMAIN empty',
    'web.default.svc.cluster.local:NOERROR',
  ]);
  assert.equal(two.answer, '10.43.0.10');
  assert.equal(resolve('web.default.svc').answer, '10.43.0.10');
  assert.equal(resolve('db-0.db.shop').answer, '10.42.0.5');
  // An outside name: the cluster's search domains are NXDOMAIN from the zone, then the host's search
  // domain is forwarded (the host's resolvers answer it).
  const outside = resolve('example.com');
  assert.deepEqual(
    outside.tried.slice(0, 3).map((t) => t.split(':')[1]),
    ['NXDOMAIN empty', 'NXDOMAIN empty', 'NXDOMAIN empty'],
  );
  assert.deepEqual(outside.tried.slice(3), ['example.com.corp.example:forward', 'example.com:forward']);
  assert.equal(outside.answer, 'forwarded');
  // A full name without its root dot has fewer than 5 dots: the search path first (k8s' known cost),
  // each answered NXDOMAIN by the zone at once, or forwarded for the host's domain.
  const full = resolve('web.default.svc.cluster.local');
  assert.equal(full.answer, '10.43.0.10');
  assert.equal(full.tried.length, 5);
  // A fully qualified name with its root dot: asked as it is.
  assert.deepEqual(resolve('web.default.svc.cluster.local.').tried, [
    'web.default.svc.cluster.local.:NOERROR',
  ]);
});

test('another cluster domain, with a trailing dot in the config', () => {
  const r = lookup(zone, 'edge.internal.', { name: 'web.default.svc.edge.internal', type: 'A' });
  assert.deepEqual(rrs(r), ['web.default.svc.edge.internal A 10.43.0.10']);
  assert.equal(
    rcode(lookup(zone, 'edge.internal', { name: 'web.default.svc.cluster.local', type: 'A' })),
    'forward',
  );
});

// ---- resolv.conf ----

const HOST: ResolvConf = parseResolvConf(
  '# a comment\nnameserver 127.0.0.53\nnameserver 192.0.2.1 ; trailing\nnameserver not-an-ip\ndomain old.example\nsearch corp.example lab.example\noptions edns0 trust-ad\n',
);
const pod = (spec: Partial<Pod['spec']>, namespace = 'shop'): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: objectMeta('p', { namespace }),
  spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
});
const form = (p: Pod) => podResolvConf(p, { clusterDomain: DOMAIN, nameserver: '10.42.0.1', host: HOST });

test("the host's resolv.conf: nameservers that are addresses, the last search line, options", () => {
  assert.deepEqual(HOST, {
    nameservers: ['127.0.0.53', '192.0.2.1'],
    searches: ['corp.example', 'lab.example'],
    options: ['edns0', 'trust-ad'],
  });
});

test("ClusterFirst (the default): the node resolver, the cluster search path then the host's, ndots:5", () => {
  const { conf, warnings } = form(pod({}));
  assert.deepEqual(warnings, []);
  assert.equal(
    formatResolvConf(conf),
    '# Kubernetes-managed resolv.conf (nokube).\nnameserver 10.42.0.1\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\noptions ndots:5\n',
  );
  assert.deepEqual(form(pod({ dnsPolicy: 'ClusterFirst' })).conf, conf);
});

test("Default: the host's file; a loopback stub is the node resolver for a pod of its own namespace", () => {
  assert.deepEqual(form(pod({ dnsPolicy: 'Default' })).conf, {
    nameservers: ['10.42.0.1', '192.0.2.1'],
    searches: ['corp.example', 'lab.example'],
    options: ['edns0', 'trust-ad'],
  });
  // On the host network the stub is reached as it is.
  assert.deepEqual(form(pod({ dnsPolicy: 'Default', hostNetwork: true })).conf.nameservers, [
    '127.0.0.53',
    '192.0.2.1',
  ]);
});

test("hostNetwork: ClusterFirst is Default, ClusterFirstWithHostNet the cluster's", () => {
  assert.deepEqual(form(pod({ hostNetwork: true })).conf, { ...HOST });
  assert.deepEqual(form(pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' })).conf.nameservers, [
    '10.42.0.1',
  ]);
  // Without hostNetwork, ClusterFirstWithHostNet is ClusterFirst.
  assert.deepEqual(form(pod({ dnsPolicy: 'ClusterFirstWithHostNet' })).conf, form(pod({})).conf);
});

test('None: dnsConfig only; dnsConfig merged into the others (options by name); limits cut with a warning', () => {
  const none = form(
    pod({
      dnsPolicy: 'None',
      dnsConfig: {
        nameservers: ['1.1.1.1'],
        searches: ['a.example'],
        options: [{ name: 'ndots', value: '2' }],
      },
    }),
  );
  assert.equal(
    formatResolvConf(none.conf),
    '# Kubernetes-managed resolv.conf (nokube).\nnameserver 1.1.1.1\nsearch a.example\noptions ndots:2\n',
  );
  const merged = form(
    pod({
      dnsConfig: {
        nameservers: ['192.0.2.53', '10.42.0.1'],
        searches: ['svc.cluster.local', 'b.example'],
        options: [{ name: 'ndots', value: '1' }, { name: 'edns0' }],
      },
    }),
  ).conf;
  assert.deepEqual(merged.nameservers, ['10.42.0.1', '192.0.2.53']);
  assert.deepEqual(merged.searches.slice(-2), ['lab.example', 'b.example']);
  assert.deepEqual(merged.options, ['ndots:1', 'edns0']);
  const many = form(
    pod({
      dnsPolicy: 'Default',
      dnsConfig: {
        nameservers: ['192.0.2.7', '192.0.2.8'],
        searches: Array.from({ length: 40 }, (_, i) => `s${i}.example`),
      },
    }),
  );
  assert.equal(many.conf.nameservers.length, 3);
  assert.equal(many.conf.searches.length, 32);
  assert.equal(many.warnings.length, 2);
  assert.match(many.warnings[0]!, /^Nameserver limits were exceeded/);
});

test("the pod spec's DNS fields, with k8s' rules", () => {
  const manifest = (spec: string) => `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c, image: busybox}]
${spec}`;
  const ok = validateManifestText(
    manifest(
      '  hostname: db-0\n  subdomain: db\n  dnsPolicy: None\n  dnsConfig: {nameservers: [192.0.2.1], searches: [a.example.], options: [{name: ndots, value: "2"}]}\n',
    ),
    'p.yaml',
  )[0]!.object as Pod;
  assert.equal(ok.spec.hostname, 'db-0');
  const refused = (spec: string) => {
    try {
      validateManifestText(manifest(spec), 'p.yaml');
    } catch (err) {
      assert.ok(err instanceof ManifestError);
      return err.message;
    }
    return assert.fail(`accepted: ${spec}`);
  };
  assert.match(refused('  dnsPolicy: None\n'), /must provide `dnsConfig` when `dnsPolicy` is None/);
  assert.match(
    refused('  dnsPolicy: None\n  dnsConfig: {searches: [a.example]}\n'),
    /at least one DNS nameserver/,
  );
  assert.match(
    refused('  dnsConfig: {nameservers: [192.0.2.1, 192.0.2.2, 192.0.2.3, 192.0.2.4]}\n'),
    /more than 3 nameservers/,
  );
  assert.match(refused('  dnsConfig: {nameservers: [dns.example]}\n'), /must be an IP address/);
  assert.match(refused('  dnsConfig: {searches: [Bad_Name]}\n'), /RFC 1123 subdomain/);
  assert.match(
    refused(
      `  dnsConfig: {searches: [${Array.from({ length: 33 }, (_, i) => `s${i}.example`).join(', ')}]}\n`,
    ),
    /more than 32 search paths/,
  );
  assert.match(refused('  dnsConfig: {options: [{name: ""}]}\n'), /must not be empty/);
  assert.match(refused('  dnsPolicy: Cluster\n'), /dnsPolicy/);
  assert.match(refused('  hostname: Not_A_Label\n'), /hostname/);
});

test("the EndpointSlice controller gives an endpoint its pod's hostname when the pod's subdomain is the Service", () => {
  const svc = service('db', 'default', {
    clusterIP: 'None',
    selector: { app: 'db' },
    ports: [{ port: 7000 }],
  });
  const member = (name: string, ip: string, spec: Partial<Pod['spec']>): Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: objectMeta(name, { labels: { app: 'db' } }),
    spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
    status: {
      phase: 'Running',
      podIP: ip,
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '' }],
    },
  });
  const [s] = desiredSlices(svc, [
    member('db-0', '10.42.0.5', { hostname: 'db-0', subdomain: 'db' }),
    member('db-1', '10.42.0.6', { hostname: 'db-1', subdomain: 'other' }),
    member('db-2', '10.42.0.7', {}),
  ]);
  assert.deepEqual(
    s!.endpoints.map((e) => e.hostname ?? null),
    ['db-0', null, null],
  );
});

test('pod records by dashed address; reverse look-ups of Services and headless endpoints, others forwarded', () => {
  assert.deepEqual(rrs(ask('10-42-0-9.shop.pod.cluster.local')), [
    '10-42-0-9.shop.pod.cluster.local A 10.42.0.9',
  ]);
  assert.deepEqual(rrs(ask('10.0.43.10.in-addr.arpa', 'PTR')), [
    '10.0.43.10.in-addr.arpa PTR web.default.svc.cluster.local',
  ]);
  assert.deepEqual(rrs(ask('5.0.42.10.in-addr.arpa.', 'PTR')), [
    '5.0.42.10.in-addr.arpa PTR db-0.db.shop.svc.cluster.local',
  ]);
  assert.deepEqual(rrs(ask('7.1.42.10.in-addr.arpa', 'PTR')), [
    '7.1.42.10.in-addr.arpa PTR 10-42-1-7.db.shop.svc.cluster.local',
  ]);
  // Not ready, or not the cluster's: the host's resolvers answer.
  assert.equal(rcode(ask('8.1.42.10.in-addr.arpa', 'PTR')), 'forward');
  assert.equal(rcode(ask('1.2.0.192.in-addr.arpa', 'PTR')), 'forward');
});

test('an ExternalName Service: a CNAME to its name for any type, the target to chase; no endpoint records', () => {
  const z = new Zone(
    buildZone(
      [
        service('db', 'shop', {
          type: 'ExternalName',
          externalName: 'DB.Example.COM.',
          selector: { app: 'db' },
        }),
        service('alias', 'shop', { type: 'ExternalName', externalName: 'web.default.svc.cluster.local' }),
      ],
      [slice('db', 'shop', [{ addresses: ['10.42.0.5'], conditions: { ready: true } }])],
    ),
  );
  const cname = (name: string, data: string) => ({ name, type: 'CNAME', ttl: TTL_SECONDS, data });
  const a = lookup(z, DOMAIN, { name: 'db.shop.svc.cluster.local', type: 'A' });
  assert.ok(!a.forward);
  assert.deepEqual(a.answers, [cname('db.shop.svc.cluster.local', 'db.example.com')]);
  assert.equal(a.chase, 'db.example.com');
  const c = lookup(z, DOMAIN, { name: 'db.shop.svc.cluster.local', type: 'CNAME' });
  assert.ok(!c.forward);
  assert.deepEqual(c.answers, [cname('db.shop.svc.cluster.local', 'db.example.com')]);
  assert.equal(c.chase, undefined, 'a CNAME asked for is the whole answer');
  const aaaa = lookup(z, DOMAIN, { name: 'alias.shop.svc.cluster.local', type: 'AAAA' });
  assert.ok(!aaaa.forward);
  assert.equal(aaaa.chase, 'web.default.svc.cluster.local');
  const ep = lookup(z, DOMAIN, { name: '10-42-0-5.db.shop.svc.cluster.local', type: 'A' });
  assert.ok(!ep.forward);
  assert.equal(ep.rcode, 'NXDOMAIN', "its selector's pods are not its endpoints");
  assert.deepEqual(z.namesOf('10.42.0.5'), []);
});
