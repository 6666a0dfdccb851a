// Cluster DNS on real Docker and the real kernel (agent/dns): one agent with a pod network, its resolver
// on the bridge address. From inside busybox pods `nslookup` resolves a Service by `<svc>`,
// `<svc>.<ns>` and its full name, a headless Service's pod record (`hostname` + `subdomain`), an SRV
// record, NXDOMAIN for a missing name, and an outside name through an upstream this test runs (the
// config's network.resolvConf names it); each dnsPolicy gives its resolv.conf, the pod's hostname is
// its `hostname`; an agent restarted while etcd is down still answers from its cache. The client pod's
// init container, in the pod's sandbox with its DNS, waits until the Service resolves.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { decode, encode } from '@dnsquery/dns-packet';
import type { Pod, Service } from '../agent/objects/types.ts';
import { createTestCluster, eventually, getJson, runCli, type TestCluster } from './harness/cluster.ts';
import { type Docker, ensureBusyboxImage, execIn, requireDocker } from './harness/docker.ts';

const _run = promisify(execFile);
const NET = 177;
const POD_CIDR = '10.177.0.0/16';
const GATEWAY = '10.177.0.1';
const UPSTREAM = `127.${NET}.53.1`;

describe('cluster DNS from pods on Docker', { timeout: 180_000 }, () => {
  let c: TestCluster;
  let docker: Docker;
  let image: string;
  let dir: string;
  let stopUpstream: () => void = () => undefined;

  const apply = async (yaml: string) => {
    const r = await runCli(['apply', '-f', '-'], c.env, yaml);
    assert.equal(r.code, 0, r.stderr);
  };
  const containerOf = async (pod: string) => {
    const [info] = await docker.listContainers({
      filters: { label: [`nokube.cluster=${c.name}`, `nokube.pod=${pod}`, 'nokube.container=main'] },
    });
    assert.ok(info, `container of ${pod}`);
    return info.Id;
  };
  const sh = async (pod: string, cmd: string) => execIn(docker, await containerOf(pod), ['sh', '-c', cmd]);

  before(async () => {
    docker = await requireDocker();
    image = await ensureBusyboxImage();
    dir = await mkdtemp(join(tmpdir(), 'nokube-dns-docker-'));
    // The hosts' resolvers for this cluster: an upstream of ours on a loopback address (reached by the
    // agent from the host's namespace), which knows outside.test and nothing else.
    stopUpstream = await fakeUpstream(UPSTREAM);
    const resolvConf = join(dir, 'resolv.conf');
    await writeFile(resolvConf, `nameserver ${UPSTREAM}\nsearch corp.test\noptions edns0\n`);
    c = await createTestCluster({
      nodes: 1,
      net: NET,
      sections: `network:\n  podCidr: ${POD_CIDR}\n  serviceCidr: 10.178.0.0/16\n  resolvConf: ${resolvConf}\n`,
    });
    await c.startAgent('n1');
    await eventually(() => getJson(`${c.headUrl()}/readyz`), 60_000, 'head ready');
    const pod = (name: string, spec: string, labels = '{}') => `---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: ${labels}}
spec:
  terminationGracePeriodSeconds: 0
${spec}  containers: [{name: main, image: ${image}, command: [sleep, '3600']}]
`;
    await apply(`apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: peer, port: 7000}]
${pod('db-0', '  hostname: db-0\n  subdomain: db\n', '{app: db}')}${pod(
  'client',
  // An init container in the pod's sandbox, with its DNS, waits for a Service as charts' init containers do.
  // (The C library's resolver, as ping uses it; busybox's nslookup fails when any search name does.)
  `  initContainers: [{name: wait, image: ${image}, command: [sh, -c, 'until ping -c1 -W1 web 2>&1 | grep -q ^PING; do sleep 1; done']}]\n`,
)}${pod('plain', '  dnsPolicy: Default\n')}${pod(
  'custom',
  '  dnsPolicy: None\n  dnsConfig: {nameservers: [192.0.2.53], searches: [a.example], options: [{name: ndots, value: "2"}]}\n',
)}${pod('merged', '  dnsConfig: {searches: [b.example], options: [{name: ndots, value: "3"}]}\n')}${pod(
  'hostnet',
  '  hostNetwork: true\n  dnsPolicy: ClusterFirstWithHostNet\n',
)}${pod('hostdefault', '  hostNetwork: true\n')}`);
    await eventually(
      async () => {
        const r = await runCli(['get', 'pods', '-o', 'json'], c.env);
        const items = (JSON.parse(r.stdout) as { items: Pod[] }).items;
        return items.length === 7 && items.every((p) => p.status?.phase === 'Running') ? true : undefined;
      },
      90_000,
      'seven pods Running',
    );
  });
  after(async () => {
    await c?.stop();
    stopUpstream();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("pods' resolv.conf per dnsPolicy; the pod's hostname and its FQDN in /etc/hosts", async () => {
    const head = '# Kubernetes-managed resolv.conf (nokube).\n';
    assert.equal(
      await sh('client', 'cat /etc/resolv.conf'),
      `${head}nameserver ${GATEWAY}\nsearch default.svc.cluster.local svc.cluster.local cluster.local corp.test\noptions ndots:5\n`,
    );
    // Default: the host's file, its loopback upstream (unreachable from the pod) replaced by the node
    // resolver, which forwards to it.
    assert.equal(
      await sh('plain', 'cat /etc/resolv.conf'),
      `${head}nameserver ${GATEWAY}\nsearch corp.test\noptions edns0\n`,
    );
    assert.equal(
      await sh('custom', 'cat /etc/resolv.conf'),
      `${head}nameserver 192.0.2.53\nsearch a.example\noptions ndots:2\n`,
    );
    assert.equal(
      await sh('merged', 'cat /etc/resolv.conf'),
      `${head}nameserver ${GATEWAY}\nsearch default.svc.cluster.local svc.cluster.local cluster.local corp.test b.example\noptions ndots:3\n`,
    );
    // hostNetwork: ClusterFirstWithHostNet is the cluster's; ClusterFirst is Default, the loopback
    // upstream kept (the host's namespace reaches it).
    assert.equal(
      await sh('hostnet', 'cat /etc/resolv.conf'),
      `${head}nameserver ${GATEWAY}\nsearch default.svc.cluster.local svc.cluster.local cluster.local corp.test\noptions ndots:5\n`,
    );
    assert.equal(
      await sh('hostdefault', 'cat /etc/resolv.conf'),
      `${head}nameserver ${UPSTREAM}\nsearch corp.test\noptions edns0\n`,
    );
    assert.equal((await sh('db-0', 'hostname')).trim(), 'db-0');
    assert.equal((await sh('client', 'hostname')).trim(), 'client');
    assert.match(await sh('db-0', 'cat /etc/hosts'), /\tdb-0\.db\.default\.svc\.cluster\.local\tdb-0\n/);
    // Read-only in the container.
    assert.match(await sh('client', 'echo x >> /etc/resolv.conf 2>&1; echo rc=$?'), /rc=1/);
  });

  test('nslookup from a pod: <svc>, <svc>.<ns>, the FQDN, the headless pod record, SRV, NXDOMAIN, an outside name', async () => {
    const web = JSON.parse((await runCli(['get', 'svc', 'web', '-o', 'json'], c.env)).stdout) as Service;
    const clusterIP = web.spec.clusterIP!;
    const dbIP = await eventually(
      async () => {
        const r = await runCli(['get', 'pod', 'db-0', '-o', 'json'], c.env);
        return (JSON.parse(r.stdout) as Pod).status?.podIP;
      },
      10_000,
      'db-0 has an IP',
    );
    const lookup = (name: string, type = '') => sh('client', `nslookup ${type} ${name} 2>&1; echo rc=$?`);
    const re = (ip: string) => ip.replaceAll('.', '\\.');
    for (const name of ['web', 'web.default.svc.cluster.local'])
      assert.match(await lookup(name), new RegExp(`Address:\\s+${re(clusterIP)}\\b`), name);
    // busybox's nslookup applies the search path to names without a dot only; the C library's resolver
    // (ping's) applies it as a pod's programs do (ndots:5): `PING <name> (<address>)` is its answer.
    const resolved = async (pod: string, name: string) =>
      /^PING \S+ \(([0-9.]+)\)/m.exec(await sh(pod, `ping -c1 -W1 ${name} 2>&1`))?.[1];
    for (const name of ['web', 'web.default', 'web.default.svc', 'web.default.svc.cluster.local'])
      assert.equal(await resolved('client', name), clusterIP, name);
    // The slice has db-0 once its Ready condition is True.
    await eventually(
      async () => ((await lookup('db-0.db.default.svc.cluster.local')).includes(dbIP) ? true : undefined),
      20_000,
      'db-0.db resolves',
    );
    assert.equal(await resolved('client', 'db-0.db'), dbIP);
    assert.match(await lookup('db.default.svc.cluster.local'), new RegExp(dbIP.replaceAll('.', '\\.')));
    assert.match(
      await lookup('_peer._tcp.db.default.svc.cluster.local', '-type=srv'),
      /7000 db-0\.db\.default\.svc\.cluster\.local/,
    );
    assert.match(await lookup(clusterIP), /name = web\.default\.svc\.cluster\.local/);
    const missing = await lookup('nope.default.svc.cluster.local');
    assert.match(missing, /NXDOMAIN/);
    assert.doesNotMatch(missing, /Address:\s+10\.178/);
    assert.match(await lookup('outside.test'), /Address:\s+192\.0\.2\.77\b/);
    assert.equal(await resolved('client', 'outside.test'), '192.0.2.77');
    // An ExternalName Service: a CNAME to the outside name, which the C library follows to its address.
    await apply(
      'apiVersion: v1\nkind: Service\nmetadata: {name: ext}\nspec: {type: ExternalName, externalName: outside.test}\n',
    );
    const ext = await eventually(
      async () => {
        const out = await lookup('ext.default.svc.cluster.local');
        return /canonical name = outside\.test/.test(out) ? out : undefined;
      },
      10_000,
      'ext resolves',
    );
    assert.match(ext, /Address:\s+192\.0\.2\.77\b/);
    assert.equal(await resolved('client', 'ext'), '192.0.2.77');
    // A hostNetwork pod reaches the node resolver on the bridge address (a local address of the host).
    assert.equal(await resolved('hostnet', 'web'), clusterIP);
    assert.match(await sh('hostnet', 'nslookup web 2>&1'), new RegExp(`Address:\\s+${re(clusterIP)}\\b`));
    // The Default pod reaches the upstream through the node resolver.
    assert.match(await sh('plain', 'nslookup outside.test 2>&1'), /Address:\s+192\.0\.2\.77\b/);
    const metrics = await (await fetch(`${c.agentUrl('n1')}/metrics`)).text();
    for (const result of ['cluster', 'nxdomain', 'forwarded'])
      assert.match(
        metrics,
        new RegExp(`^nokube_dns_queries_total\\{result="${result}"[^}]*\\} [1-9]`, 'm'),
        result,
      );
  });

  test('an agent restarted while etcd is down answers from its cache', async () => {
    const before = await sh('client', 'nslookup web.default.svc.cluster.local 2>&1');
    const dbIP = (JSON.parse((await runCli(['get', 'pod', 'db-0', '-o', 'json'], c.env)).stdout) as Pod)
      .status!.podIP!;
    await c.agents.get('n1')!.kill('SIGKILL');
    await c.etcd.pause();
    try {
      await c.startAgent('n1');
      const after = await eventually(
        async () => {
          const out = await sh('client', 'nslookup web.default.svc.cluster.local 2>&1; echo rc=$?');
          return out.includes('rc=0') ? out : undefined;
        },
        30_000,
        'the restarted resolver answers',
      );
      assert.equal(after.replace(/\nrc=0\n$/, '\n'), before);
      assert.match(await sh('client', 'nslookup db-0.db.default.svc.cluster.local 2>&1'), new RegExp(dbIP));
    } finally {
      await c.etcd.resume();
    }
  });
});

/** A DNS server on `address`:53 (UDP and TCP) that answers outside.test with 192.0.2.77 and NXDOMAIN
 * otherwise. Returns its stop. */
async function fakeUpstream(address: string): Promise<() => void> {
  const answer = (msg: Buffer) => {
    const q = decode(msg);
    const name = q.questions?.[0]?.name ?? '';
    const known = name === 'outside.test' && q.questions?.[0]?.type === 'A';
    return encode({
      type: 'response',
      id: q.id ?? 0,
      flags: (1 << 7) | (name === 'outside.test' ? 0 : 3),
      questions: q.questions ?? [],
      answers: known ? [{ name, type: 'A', ttl: 30, data: '192.0.2.77' }] : [],
    });
  };
  const udp = createSocket('udp4');
  udp.on('message', (msg, from) => udp.send(answer(msg), from.port, from.address));
  const tcp = createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d) => {
      const a = answer(d.subarray(2));
      const len = Buffer.alloc(2);
      len.writeUInt16BE(a.length, 0);
      s.write(Buffer.concat([len, a]));
    });
  });
  await new Promise<void>((r) => udp.bind(53, address, () => r()));
  await new Promise<void>((r) => tcp.listen(53, address, () => r()));
  return () => {
    udp.close();
    tcp.close();
  };
}
