// The Service data path on the real kernel, etcd and Docker (agent/services/proxy): the agent loads its
// nftables table from the Services and EndpointSlices. A ClusterIP reached from a network namespace wired
// to the node as a pod is is spread over its 3 ready endpoints (kept on one with ClientIP affinity); a
// NodePort is reached from a namespace outside the node; an endpoint whose readiness fails leaves the
// kernel's rules and comes back; a Service without endpoints refuses at once; a deleted Service takes its rules (counted); a pod reaches itself
// through its Service; a table replaced by a change keeps an open connection through a ClusterIP; an
// agent restart with the same inputs keeps the table (its handles) and the connection, and moves a pod an
// older agent put on the node's bridge to a routed veth with the connection kept; an agent started
// with etcd down loads its rules from its workspace cache, then follows etcd; an agent started with
// `network.mode: host` removes the table.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Pod, Service } from '../agent/objects/types.ts';
import { bridgeName, vethName } from '../agent/podnet/names.ts';
import { tableName } from '../agent/services/nft/plan.ts';
import { servicesCachePath } from '../agent/services/proxy/cache.ts';
import { storeConfig } from '../agent/store/config-store.ts';
import {
  createTestCluster,
  eventually,
  runCli,
  startAgentsReady,
  type TestCluster,
} from './harness/cluster.ts';
import { type Docker, ensureBusyboxImage, execIn, podNetnsPath, requireDocker } from './harness/docker.ts';
import { holdConnection, httpGets, serveInNetns } from './harness/netns-client.ts';

const run = promisify(execFile);
const NET = 137;
const NODE_PORT = 31137;

describe('Service data path: the agent loads its nftables table', { timeout: 300_000 }, () => {
  let c: TestCluster;
  let docker: Docker;
  let image: string;
  let table: string;
  const tag = process.pid % 100000;
  /** A namespace wired to the node as a pod is (a pod's view), and one beyond the node (a client outside). */
  const inside = `nkt-svc-in-${process.pid}`;
  const outside = `nkt-svc-out-${process.pid}`;
  const insideVeth = `nktsi${tag}`;
  const outsideVeth = `nktso${tag}`;
  const outsideHost = `10.254.${NET}.1`;
  const clients: ChildProcessWithoutNullStreams[] = [];

  const cli = async (args: string[], input?: string) => {
    const r = await runCli(args, c.env, input);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const apply = (yaml: string) => cli(['apply', '-f', '-'], yaml);
  const pods = async (prefix: string): Promise<Pod[]> =>
    ((JSON.parse(await cli(['get', 'pods', '-o', 'json'])) as { items: Pod[] }).items ?? []).filter((p) =>
      p.metadata.name.startsWith(prefix),
    );
  const clusterIp = async (name: string) =>
    (JSON.parse(await cli(['get', 'svc', name, '-o', 'json'])) as Service).spec.clusterIP!;
  const listTable = async (handles = false) =>
    (await run('nft', [...(handles ? ['-a'] : []), 'list', 'table', 'ip', table])).stdout;
  const tableOrEmpty = () => listTable().catch(() => '');
  const digestOf = (text: string) => /comment "nokube services ([0-9a-f]+)"/.exec(text)?.[1];
  /** The DNAT rules of one Service's endpoints in the kernel's table. */
  const dnatOf = (text: string, svc: string) =>
    text
      .split('\n')
      .map((l) => /^\s*chain "?(endpoint-[^\s"]+)/.exec(l)?.[1])
      .filter((chain): chain is string => chain?.includes(`-default/${svc}/`) ?? false).length;
  /** `count` GETs, each on a new connection, from a namespace: the bodies (pod names). */
  const getsFrom = (ns: string, host: string, port: number, count: number) =>
    httpGets(ns, `http://${host}:${port}/`, count);
  const containerOf = async (pod: string, container = 'web') => {
    const [info] = await docker.listContainers({
      filters: { label: [`nokube.cluster=${c.name}`, `nokube.pod=${pod}`, `nokube.container=${container}`] },
    });
    assert.ok(info, `container of ${pod}`);
    return info.Id;
  };

  before(async () => {
    docker = await requireDocker();
    image = await ensureBusyboxImage();
    c = await createTestCluster({
      nodes: 1,
      net: NET,
      sections: `network:\n  podCidr: 10.${NET}.0.0/16\n  serviceCidr: 10.${NET + 1}.0.0/16\n`,
    });
    table = tableName(c.name, 'n1');
    await startAgentsReady(c);
    // Beyond the node: a namespace on a veth of the host.
    await run('ip', ['netns', 'add', outside]);
    await run('ip', ['link', 'add', outsideVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside]);
    await run('ip', ['addr', 'add', `${outsideHost}/30`, 'dev', outsideVeth]);
    await run('ip', ['link', 'set', outsideVeth, 'up']);
    await run('ip', ['-n', outside, 'addr', 'add', `10.254.${NET}.2/30`, 'dev', 'eth0']);
    await run('ip', ['-n', outside, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', outside, 'route', 'add', 'default', 'via', outsideHost]);
  });
  after(async () => {
    for (const child of clients) child.kill('SIGKILL');
    await c?.stop();
    for (const dev of [insideVeth, outsideVeth]) await run('ip', ['link', 'del', dev]).catch(() => undefined);
    for (const ns of [inside, outside]) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    if (c) assert.equal(await tableOrEmpty(), '', 'the table goes with the cluster');
  });

  test('a ClusterIP from the pod bridge is spread over its 3 ready endpoints; a NodePort from outside the node', async () => {
    await apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: ${image}
          command: [sh, -c, 'mkdir -p /www && echo $POD > /www/index.html && touch /tmp/ready && exec httpd -f -p 8080 -h /www']
          env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 1, timeoutSeconds: 5, failureThreshold: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http, nodePort: ${NODE_PORT}}]
`);
    const web = await eventually(
      async () => {
        const list = await pods('web-');
        return list.length === 3 && list.every((p) => p.status?.podIP) && list;
      },
      120_000,
      '3 web pods with IPs',
    );
    const names = web.map((p) => p.metadata.name).sort();
    // The node's subnet (a /24 of podCidr, the gateway at .1): the inside namespace takes .250, wired
    // as agent/podnet wires a pod (a routed veth answering the pod's ARP).
    const [a, b, cc] = web[0]!.status!.podIP!.split('.');
    await run('ip', ['netns', 'add', inside]);
    await run('ip', ['link', 'add', insideVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', inside]);
    await run('ip', ['link', 'set', insideVeth, 'up']);
    await run('ip', [
      'route',
      'add',
      `${a}.${b}.${cc}.250/32`,
      'dev',
      insideVeth,
      'src',
      `${a}.${b}.${cc}.1`,
    ]);
    await writeFile(`/proc/sys/net/ipv4/conf/${insideVeth}/proxy_arp`, '1');
    await writeFile(`/proc/sys/net/ipv4/neigh/${insideVeth}/proxy_delay`, '0');
    await run('ip', ['-n', inside, 'addr', 'add', `${a}.${b}.${cc}.250/24`, 'dev', 'eth0']);
    await run('ip', ['-n', inside, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', inside, 'route', 'add', 'default', 'via', `${a}.${b}.${cc}.1`]);

    const ip = await clusterIp('web');
    assert.match(ip, new RegExp(`^10\\.${NET + 1}\\.`));
    await eventually(async () => dnatOf(await tableOrEmpty(), 'web') === 3, 60_000, '3 endpoints of web');
    const got = await getsFrom(inside, ip, 80, 30);
    assert.deepEqual([...new Set(got)].sort(), names, got.join(' '));
    const fromOutside = await getsFrom(outside, outsideHost, NODE_PORT, 9);
    for (const body of fromOutside) assert.ok(names.includes(body), fromOutside.join(' '));
    // The inputs were cached for a start without etcd.
    assert.ok(
      (await run('cat', [servicesCachePath(join(c.dir, 'ws', 'n1'))])).stdout.includes('"web"'),
      'cached',
    );
  });

  test('sessionAffinity ClientIP: every new connection of one client goes to one endpoint', async () => {
    await apply(`apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: web}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  ports: [{port: 83, targetPort: 8080}]
`);
    const ip = await clusterIp('sticky');
    await eventually(async () => dnatOf(await tableOrEmpty(), 'sticky') === 3, 30_000, "sticky's endpoints");
    const got = await getsFrom(inside, ip, 83, 12);
    assert.equal(new Set(got).size, 1, got.join(' '));
    assert.ok(got[0]!.startsWith('web-'), got[0]);
    await cli(['delete', 'svc', 'sticky']);
    await eventually(async () => dnatOf(await tableOrEmpty(), 'sticky') === 0, 30_000, "sticky's rules gone");
  });

  test('an endpoint whose readiness fails leaves the rules and comes back', async () => {
    const ip = await clusterIp('web');
    const [victim] = await pods('web-');
    const podIp = victim!.status!.podIP!;
    const id = await containerOf(victim!.metadata.name);
    await execIn(docker, id, ['rm', '/tmp/ready']);
    try {
      await eventually(
        async () => {
          const text = await tableOrEmpty();
          return dnatOf(text, 'web') === 2 && !text.includes(`dnat to ${podIp}:`);
        },
        30_000,
        `${podIp} out of the rules`,
      );
      const got = await getsFrom(inside, ip, 80, 12);
      // On a failure: the table and what the pods' statuses say now.
      const seen = async () =>
        `${got.join(' ')}\n${await tableOrEmpty()}\n${(await pods('web-'))
          .map((p) => `${p.metadata.name} ${p.status?.podIP} ${JSON.stringify(p.status?.conditions)}`)
          .join('\n')}`;
      if (got.includes(victim!.metadata.name) || got.some((g) => g.startsWith('error')))
        assert.fail(`${victim!.metadata.name} (${podIp}) answered, or a GET failed: ${await seen()}`);
    } finally {
      // Ready again even when the test failed: the next tests count 3 endpoints.
      await execIn(docker, id, ['touch', '/tmp/ready']);
    }
    await eventually(
      async () => (await tableOrEmpty()).includes(`dnat to ${podIp}:8080`),
      30_000,
      `${podIp} back in the rules`,
    );
    await eventually(
      async () => (await getsFrom(inside, ip, 80, 10)).includes(victim!.metadata.name),
      30_000,
      `${victim!.metadata.name} answering again`,
    );
  });

  test('a Service without endpoints refuses at once: its ClusterIP from a pod, its NodePort from outside the node', async () => {
    await apply(`apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  type: NodePort
  selector: {app: nobody}
  ports: [{port: 80, targetPort: 8080, nodePort: ${NODE_PORT + 1}}]
`);
    const ip = await clusterIp('nobody');
    await eventually(
      async () => (await tableOrEmpty()).includes(`${ip} . tcp . 80 : goto reject-chain`),
      30_000,
      "nobody's ClusterIP rejected",
    );
    const [fromPod] = await getsFrom(inside, ip, 80, 1);
    assert.match(fromPod!, /ECONNREFUSED/);
    const [fromOutside] = await getsFrom(outside, outsideHost, NODE_PORT + 1, 1);
    assert.match(fromOutside!, /ECONNREFUSED/);
    // Web's NodePort beside it answers.
    assert.ok((await getsFrom(outside, outsideHost, NODE_PORT, 1))[0]?.startsWith('web-'));
    await cli(['delete', 'svc', 'nobody']);
  });

  test('UDP: a flow to an endpoint that leaves goes to one that is there (its conntrack entries deleted)', async () => {
    await apply(`apiVersion: v1
kind: Service
metadata: {name: udp}
spec:
  selector: {app: web}
  ports: [{name: echo, protocol: UDP, port: 5300, targetPort: 5300}]
`);
    // In each web pod's namespace a UDP server answering with its pod's name.
    for (const p of await pods('web-'))
      serveInNetns(
        await podNetnsPath(docker, c.name, p.metadata.name),
        `const s = require('dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(process.argv[1], r.port, r.address)); s.bind(5300);`,
        clients,
        [p.metadata.name],
      );
    const ip = await clusterIp('udp');
    // Always from one source port: one flow, which conntrack keeps on its endpoint while packets come.
    const ask = async () =>
      (
        await run('ip', [
          'netns',
          'exec',
          inside,
          process.execPath,
          '-e',
          `const s = require('dgram').createSocket('udp4');
s.on('message', (m) => { console.log(String(m)); process.exit(0); });
s.bind(40053, () => s.send('ping', 5300, '${ip}'));
setTimeout(() => { console.log('timeout'); process.exit(0); }, 1000);`,
        ])
      ).stdout.trim();
    const first = await eventually(
      async () => {
        const r = await ask();
        return r.startsWith('web-') ? r : undefined;
      },
      30_000,
      'a UDP answer through the ClusterIP',
    );
    assert.deepEqual([await ask(), await ask()], [first, first], 'one flow, one endpoint');
    const id = await containerOf(first);
    await execIn(docker, id, ['rm', '/tmp/ready']);
    try {
      // Its server still answers: only a deleted conntrack entry sends the flow elsewhere.
      const next = await eventually(
        async () => {
          const r = await ask();
          return r.startsWith('web-') && r !== first ? r : undefined;
        },
        20_000,
        `the flow leaving ${first}`,
      );
      assert.notEqual(next, first);
    } finally {
      await execIn(docker, id, ['touch', '/tmp/ready']);
    }
    await cli(['delete', 'svc', 'udp']);
  });

  test('a deleted Service takes its rules with it (counted)', async () => {
    await apply(`apiVersion: v1
kind: Service
metadata: {name: other}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 81, targetPort: 8080}]
`);
    const ip = await clusterIp('other');
    const count = (text: string) => ({
      endpoints: dnatOf(text, 'other'),
      chains: text.split('\n').filter((l) => /^\s*chain "?\S+-default\/other\//.test(l)).length,
      elements: text.match(new RegExp(`${ip.replaceAll('.', '\\.')}(?![0-9])`, 'g'))?.length ?? 0,
    });
    const before = await eventually(
      async () => {
        const n = count(await tableOrEmpty());
        return n.endpoints === 3 && n;
      },
      30_000,
      "other's rules",
    );
    // 3 endpoint chains, its Service chain and its external (NodePort) chain; its ClusterIP in the map and
    // in the masquerade rule.
    assert.deepEqual(before, { endpoints: 3, chains: 5, elements: 2 });
    assert.ok((await getsFrom(inside, ip, 81, 1))[0]?.startsWith('web-'));
    await cli(['delete', 'svc', 'other']);
    await eventually(
      async () => {
        const text = await tableOrEmpty();
        return JSON.stringify(count(text)) === JSON.stringify({ endpoints: 0, chains: 0, elements: 0 });
      },
      30_000,
      "other's rules gone",
    );
    assert.equal(dnatOf(await tableOrEmpty(), 'web'), 3, "web's rules stay");
  });

  test('a table replaced keeps an open connection; an agent restart with the same inputs changes nothing', async () => {
    await apply(`apiVersion: v1
kind: Pod
metadata: {name: echo, labels: {app: echo}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: echo
      image: ${image}
      command: [nc, -ll, -p, '9000', -e, cat]
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{port: 9000}]
`);
    const ip = await clusterIp('echo');
    await eventually(async () => dnatOf(await tableOrEmpty(), 'echo') === 1, 60_000, "echo's endpoint");
    // A pod reaching itself through its Service (hairpin: masqueraded by the node, back to its own port).
    const echoCt = await containerOf('echo', 'echo');
    const hairpin = () =>
      eventually(
        async () =>
          (await execIn(docker, echoCt, ['sh', '-c', `echo hairpin | nc -w 2 ${ip} 9000`])).includes(
            'hairpin',
          ),
        20_000,
        'the echo pod answering itself through its ClusterIP',
      );
    await hairpin();
    const conn = await holdConnection(inside, ip, 9000, clients);
    await conn.echo('first');
    // A change replaces the table (new handles) in one transaction: the connection's NAT is conntrack's.
    const digest = digestOf(await listTable());
    await apply(
      'apiVersion: v1\nkind: Service\nmetadata: {name: more}\nspec:\n  selector: {app: web}\n  ports: [{port: 82, targetPort: 8080}]\n',
    );
    await eventually(
      async () => dnatOf(await tableOrEmpty(), 'more') === 3,
      30_000,
      'the table replaced with more',
    );
    assert.notEqual(digestOf(await listTable()), digest);
    await conn.echo('after a replace');

    // The echo pod's veth routed; then on the node's bridge without its route, as an agent of before
    // routed veths left it: the restarted agent moves it back, the connection through it kept.
    const [echoPod] = await pods('echo');
    const echoVeth = vethName(echoPod!.metadata.uid);
    const echoIp = echoPod!.status!.podIP!;
    const wiring = async () => {
      const link = JSON.parse((await run('ip', ['-j', 'link', 'show', 'dev', echoVeth])).stdout)[0];
      const routes = JSON.parse((await run('ip', ['-j', 'route', 'show', 'dev', echoVeth])).stdout);
      return {
        master: link.master ?? null,
        routed: routes.some((r: { dst: string }) => r.dst === echoIp),
        proxyArp: (await run('cat', [`/proc/sys/net/ipv4/conf/${echoVeth}/proxy_arp`])).stdout.trim(),
      };
    };
    const routed = { master: null, routed: true, proxyArp: '1' };
    assert.deepEqual(await wiring(), routed);
    await run('ip', ['route', 'del', `${echoIp}/32`, 'dev', echoVeth]);
    await run('ip', ['link', 'set', echoVeth, 'master', bridgeName(c.name, 'n1')]);
    const tableBefore = await listTable(true);
    await c.agents.get('n1')!.kill('SIGKILL');
    const agent = await c.startAgent('n1');
    await eventually(
      () => agent.output().includes('service rules as wanted already'),
      60_000,
      'the restarted agent to find its rules in the kernel',
    );
    assert.equal(await listTable(true), tableBefore, 'same table, same handles');
    await eventually(
      async () => JSON.stringify(await wiring()) === JSON.stringify(routed),
      20_000,
      "the echo pod's veth routed again",
    );
    await conn.echo('after a restart');
    conn.close();
    await hairpin();
  });

  test('an agent started with etcd down loads its rules from its cache, and follows etcd once it is back', async () => {
    const ip = await clusterIp('web');
    const wanted = digestOf(await listTable());
    assert.ok(wanted);
    await c.agents.get('n1')!.kill('SIGKILL');
    // As after a reboot: the kernel lost the table.
    await run('nft', ['delete', 'table', 'ip', table]);
    await c.etcd.pause();
    try {
      await c.startAgent('n1');
      await eventually(
        async () => digestOf(await tableOrEmpty()) === wanted,
        60_000,
        'the table loaded again from the cache',
      );
      const got = await getsFrom(inside, ip, 80, 6);
      for (const body of got) assert.ok(body.startsWith('web-'), got.join(' '));
    } finally {
      await c.etcd.resume();
    }
    // Back in touch: the informers list and a change is loaded.
    await apply(
      'apiVersion: v1\nkind: Service\nmetadata: {name: late}\nspec:\n  selector: {app: web}\n  ports: [{port: 84, targetPort: 8080}]\n',
    );
    await eventually(async () => dnatOf(await tableOrEmpty(), 'late') === 3, 60_000, "late's rules");
    assert.equal(dnatOf(await listTable(), 'web'), 3);
  });

  test('an agent started with network.mode host removes the table an earlier start left', async () => {
    const text = c.configYaml(c.nodes, 'network:\n  mode: host\n');
    await writeFile(c.configFile, text);
    await c.withEtcd((etcd) => storeConfig(etcd, text, c.configFile, 'test', 'latest'));
    await c.agents.get('n1')!.kill('SIGKILL');
    assert.ok(await tableOrEmpty(), 'the table is there before');
    await c.startAgent('n1');
    await eventually(async () => (await tableOrEmpty()) === '', 60_000, 'the table removed');
  });
});
