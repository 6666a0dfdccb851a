// Pod networking and Services across three hosts, as users meet them: netns hosts on one link, each with
// its own Docker engine and a real agent (test/harness/route-world.ts with `docker`), real busybox pods
// with sandboxes. First with network.backend vxlan (the default), then host-gw after a config change
// and a restart of every agent. Pod to pod by pod IP across hosts, the server seeing the caller's own
// address (no NAT); a ClusterIP from a pod on every host spread over endpoints on all three; a NodePort
// from outside the cluster's hosts (this process, in the root namespace); Service names from a pod on
// every host; endpoints leave a pod whose readiness fails and take it back; two pods on one node
// listening on one port; a hostNetwork pod; pods of one node to each other and to a Service endpoint
// on their node through routed veths, with br_netfilter's switch off and on; an agent restart changes no
// rule and drops no connection
// held through a ClusterIP; after deletes, no veth, container, address or rule is left on any host.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { isDeepStrictEqual, promisify } from 'node:util';
import Docker from 'dockerode';
import type { Pod, Service } from '../agent/objects/types.ts';
import { bridgeName, vethName } from '../agent/podnet/names.ts';
import { tableName } from '../agent/services/nft/plan.ts';
import { eventually, runCli, startAgentsReady } from './harness/cluster.ts';
import { ensureBusyboxImage, execIn, podNetnsPath, requireDocker } from './harness/docker.ts';
import { holdConnection, httpGets, serveInNetns } from './harness/netns-client.ts';
import { ipIn, ourRoutes, type RouteWorld, reconciled, startRouteWorld } from './harness/route-world.ts';

const run = promisify(execFile);
const SERVICE_CIDR = '10.43.0.0/16';
const NODE_PORT = 31177;
const HOST_PORT = 18177;
const ECHO_PORT = 7001;
const NODES = ['h0', 'h1', 'h2'] as const;

describe('pod network and Services on 3 hosts, each with its own Docker engine', { timeout: 600_000 }, () => {
  let w: RouteWorld;
  let image: string;
  const engines = new Map<string, Docker>();
  const children: ChildProcessWithoutNullStreams[] = [];

  const cli = async (args: string[], input?: string) => {
    const r = await runCli(args, w.c.env, input);
    assert.equal(r.code, 0, `nokube ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const apply = (yaml: string) => cli(['apply', '-f', '-'], yaml);
  /** A ClusterIP Service of one port over the pods labelled `app`. */
  const applyService = (name: string, app: string, port: number, targetPort: number) =>
    apply(
      `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec:\n  selector: {app: ${app}}\n  ports: [{port: ${port}, targetPort: ${targetPort}}]\n`,
    );
  const pods = async (): Promise<Pod[]> =>
    (JSON.parse(await cli(['get', 'pods', '-o', 'json'])) as { items?: Pod[] }).items ?? [];
  const podNamed = async (name: string) => (await pods()).find((p) => p.metadata.name === name);
  const clusterIp = async (name: string) =>
    (JSON.parse(await cli(['get', 'svc', name, '-o', 'json'])) as Service).spec.clusterIP!;
  /** The containers of ours on a host's engine (`sandbox`: the sandboxes only). */
  const containers = (node: string, sandbox = false) =>
    engines.get(node)!.listContainers({
      all: true,
      filters: { label: [`nokube.cluster=${w.c.name}`, ...(sandbox ? ['nokube.sandbox=true'] : [])] },
    });
  const containerOf = async (pod: string, node: string) => {
    const [info] = await engines.get(node)!.listContainers({
      filters: { label: [`nokube.cluster=${w.c.name}`, `nokube.pod=${pod}`, 'nokube.container=main'] },
    });
    assert.ok(info, `container of ${pod} on ${node}`);
    return info.Id;
  };
  const sh = async (pod: string, node: string, cmd: string) =>
    execIn(engines.get(node)!, await containerOf(pod, node), ['sh', '-c', cmd]);
  const podNetns = (pod: string, node: string) => podNetnsPath(engines.get(node)!, w.c.name, pod);
  /** `count` GETs from a pod's network namespace (each on its own connection): the bodies. (Not busybox's
   * wget: the static busybox's wget crashes resolving even an address.) */
  const getsFrom = async (pod: string, node: string, url: string, count: number) =>
    httpGets(await podNetns(pod, node), url, count);
  /** `count` GETs from this process (outside every cluster host). */
  const getsFromOutside = async (url: string, count: number) => {
    const out: string[] = [];
    for (let i = 0; i < count; i++)
      out.push(
        await fetch(url, { signal: AbortSignal.timeout(3000), headers: { connection: 'close' } }).then(
          (r) => r.text().then((t) => t.trim()),
          (e: Error) => `failed: ${e.message}`,
        ),
      );
    return out;
  };
  const podIps = async () => {
    const ips: Record<string, string> = {};
    for (const n of NODES) ips[n] = (await podNamed(`web-${n}`))!.status!.podIP!;
    return ips;
  };
  /** Every pod to every other, by pod IP: the address the server saw (its CGI's REMOTE_ADDR). */
  const everyPair = async () => {
    const ips = await podIps();
    for (const from of NODES)
      for (const to of NODES) {
        if (from === to) continue;
        const [seen] = await getsFrom(`web-${from}`, from, `http://${ips[to]}:8080/cgi-bin/ip`, 1);
        // busybox httpd listens dual-stack: an IPv4 caller is `[::ffff:a.b.c.d]`.
        const caller = seen?.replace(/^\[::ffff:(.*)\]$/, '$1');
        assert.equal(caller, ips[from], `web-${from} -> web-${to} arrives from the caller's own address`);
      }
  };
  /** Our rules and routes on a host, to compare before and after a restart. */
  const kernelState = async (node: string) => {
    const host = w.host(node);
    const table = await run('ip', [
      'netns',
      'exec',
      host.netns,
      'nft',
      '-a',
      'list',
      'table',
      'ip',
      tableName(w.c.name, node),
    ]);
    return { table: table.stdout, routes: await ourRoutes(host) };
  };

  // The readiness probe's timeout and threshold leave room for a `docker exec` slowed by a loaded CI
  // machine: a readiness flap moves every host's Service table, which the agent-restart test counts.
  const web = (node: string, name = `web-${node}`, app = 'web') => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {app: ${app}}}
spec:
  nodeName: ${node}
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${image}
      command: [sh, -c, 'mkdir -p /www/cgi-bin && echo $POD > /www/index.html && printf "#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho \\$REMOTE_ADDR\\n" > /www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && touch /tmp/ready && exec httpd -f -p 8080 -h /www']
      env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
      ports: [{name: http, containerPort: 8080}]
      readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 1, failureThreshold: 2, timeoutSeconds: 5}
`;

  before(async () => {
    const machine = await requireDocker();
    image = await ensureBusyboxImage();
    w = await startRouteWorld({
      agents: 3,
      recordOnly: 0,
      far: [],
      docker: true,
      network: `  serviceCidr: ${SERVICE_CIDR}\n`,
    });
    // The test image comes from the machine's engine (no registry reaches the hosts' engines); the sandbox
    // image is the built-in one, made by each agent on its engine.
    for (const h of w.hosts.hosts) {
      const engine = new Docker({ socketPath: h.dockerSocket! });
      engines.set(h.name, engine);
      await engine.loadImage(await machine.getImage(image).get());
    }
    await w.config('vxlan');
    await startAgentsReady(w.c);
    await apply(
      [
        ...NODES.map((n) => web(n)),
        `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`,
        `apiVersion: v1
kind: Service
metadata: {name: web-outside}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: ${NODE_PORT}}]
`,
      ].join('---\n'),
    );
    await eventually(
      async () => {
        const list = await pods();
        return NODES.every((n) =>
          list.some(
            (p) =>
              p.metadata.name === `web-${n}` &&
              p.status?.podIP &&
              p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
          ),
        );
      },
      180_000,
      'a ready web pod with its IP on each host',
    );
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await w?.stop();
  });

  test('vxlan: each pod has an IP of its node subnet; pods on different hosts reach each other by pod IP, without NAT', async () => {
    const ips = await podIps();
    for (const n of NODES) {
      const subnet = await w.subnetOf(n);
      assert.equal(ips[n]!.split('.').slice(0, 3).join('.'), subnet.split('.').slice(0, 3).join('.'));
      assert.notEqual(ips[n], w.host(n).address);
    }
    await eventually(
      async () => {
        await everyPair();
        return true;
      },
      30_000,
      'every pod reaches every other',
    );
    // Over the overlay: each peer subnet via the node's VXLAN device.
    const routes = await ourRoutes(w.host('h0'));
    assert.deepEqual(Object.keys(routes).sort(), [await w.subnetOf('h1'), await w.subnetOf('h2')].sort());
    for (const via of Object.values(routes)) assert.match(via, / nkx[0-9a-f]{8} onlink$/);
    // The overlay's own packets are not tracked (the node's table): no conntrack entry for them.
    for (const n of NODES) {
      const tracked = await run('ip', ['netns', 'exec', w.host(n).netns, 'conntrack', '-L', '-p', 'udp']);
      assert.doesNotMatch(tracked.stdout, /dport=8472/, `${n}: ${tracked.stdout}`);
    }
  });

  test('a ClusterIP from a pod on every host is spread over the endpoints on all three hosts', async () => {
    const ip = await clusterIp('web');
    assert.ok(ip.startsWith('10.43.'), ip);
    for (const n of NODES) {
      const got = await getsFrom(`web-${n}`, n, `http://${ip}/`, 30);
      assert.deepEqual([...new Set(got)].sort(), ['web-h0', 'web-h1', 'web-h2'], `from web-${n}: ${got}`);
    }
  });

  test('Service names resolve from a pod on every host: <svc>, <svc>.<ns>, <svc>.<ns>.svc.cluster.local', async () => {
    const ip = await clusterIp('web');
    const re = new RegExp(`Address:\\s+${ip.replaceAll('.', '\\.')}\\b`);
    for (const n of NODES) {
      for (const name of ['web', 'web.default', 'web.default.svc.cluster.local']) {
        // busybox's nslookup applies the search path to names without a dot only: the others in full.
        const q = name === 'web.default' ? 'web.default.svc.cluster.local' : name;
        assert.match(await sh(`web-${n}`, n, `nslookup ${q} 2>&1`), re, `${name} from web-${n}`);
      }
      assert.match(await sh(`web-${n}`, n, 'cat /etc/resolv.conf'), /search default\.svc\.cluster\.local /);
    }
  });

  test('a NodePort from outside the cluster hosts, at every host address, reaches pods on all three', async () => {
    for (const n of NODES) {
      const got = await getsFromOutside(`http://${w.host(n).address}:${NODE_PORT}/`, 30);
      assert.deepEqual([...new Set(got)].sort(), ['web-h0', 'web-h1', 'web-h2'], `via ${n}: ${got}`);
    }
  });

  test('endpoints leave a pod whose readiness fails and take it back', async () => {
    const ip = await clusterIp('web');
    await sh('web-h1', 'h1', 'rm /tmp/ready');
    await eventually(
      async () => {
        const p = await podNamed('web-h1');
        return p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'False');
      },
      20_000,
      'web-h1 not ready',
    );
    // The slice follows the pod within a second; the rules on each host follow their informer.
    await eventually(
      async () => {
        const got = await getsFrom('web-h0', 'h0', `http://${ip}/`, 20);
        return !got.includes('web-h1') && got.every((g) => g === 'web-h0' || g === 'web-h2');
      },
      20_000,
      'web-h1 out of the ClusterIP from h0',
    );
    await sh('web-h1', 'h1', 'touch /tmp/ready');
    await eventually(
      async () => (await getsFrom('web-h2', 'h2', `http://${ip}/`, 20)).includes('web-h1'),
      20_000,
      'web-h1 back in the ClusterIP from h2',
    );
  });

  test('two pods on one node listen on the same port; a hostNetwork pod gets the host address', async () => {
    await apply(
      [
        web('h0', 'twin', 'twin'),
        `apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  nodeName: h2
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${image}
      command: [sh, -c, 'mkdir -p /www && echo hostnet > /www/index.html && exec httpd -f -p ${HOST_PORT} -h /www']
`,
      ].join('---\n'),
    );
    const [twin, hostnet] = await eventually(
      async () => {
        const t = await podNamed('twin');
        const h = await podNamed('hostnet');
        return t?.status?.podIP && h?.status?.podIP && t.status.phase === 'Running'
          ? ([t, h] as const)
          : undefined;
      },
      60_000,
      'twin and hostnet running',
    );
    const ips = await podIps();
    assert.notEqual(twin.status!.podIP, ips.h0);
    // Both answer on 8080 on h0, from h1.
    for (const [ip, name] of [
      [twin.status!.podIP!, 'twin'],
      [ips.h0!, 'web-h0'],
    ])
      await eventually(
        async () => (await getsFrom('web-h1', 'h1', `http://${ip}:8080/`, 1))[0] === name,
        20_000,
        `${name} on 8080 from h1`,
      );
    assert.equal(hostnet.status!.podIP, w.host('h2').address);
    const got = await getsFromOutside(`http://${w.host('h2').address}:${HOST_PORT}/`, 1);
    assert.deepEqual(got, ['hostnet']);
  });

  test("pods of one node reach each other and a Service's endpoint on their node, caller addresses kept, through routed veths whether br_netfilter is on or off, and with arp_ignore 1", async () => {
    await applyService('twin', 'twin', 80, 8080);
    const ip = await clusterIp('twin');
    const h0 = w.host('h0');
    const brNf = '/proc/sys/net/bridge/bridge-nf-call-iptables';
    const inH0 = (cmd: string) => run('ip', ['netns', 'exec', h0.netns, 'sh', '-c', cmd]);
    // The module loaded (the file then exists in every namespace); the host starts with the switch off.
    await inH0(`[ -e ${brNf} ] || modprobe br_netfilter`);
    assert.equal((await inH0(`cat ${brNf}`)).stdout.trim(), '0');
    const pods = await Promise.all(['twin', 'web-h0'].map(async (n) => (await podNamed(n))!));
    // Each pod's veth on no bridge, a /32 route to the pod through it.
    for (const pod of pods) {
      const veth = vethName(pod.metadata.uid);
      const [link] = await ipIn<Array<{ master?: string }>>(h0, ['link', 'show', 'dev', veth]);
      assert.equal(link!.master, undefined, `${pod.metadata.name}'s veth on no bridge`);
      const routes = await ipIn<Array<{ dst: string }>>(h0, ['route', 'show', 'dev', veth]);
      assert.deepEqual(
        routes.map((r) => r.dst),
        [pod.status!.podIP],
      );
    }
    const webIp = (await podIps()).h0!;
    const twinIp = pods[0]!.status!.podIP!;
    const reachable = async (mode: string) => {
      for (const url of [`http://${twinIp}:8080/cgi-bin/ip`, `http://${ip}/cgi-bin/ip`]) {
        const [seen] = await getsFrom('web-h0', 'h0', url, 1);
        assert.equal(seen?.replace(/^\[::ffff:(.*)\]$/, '$1'), webIp, `${mode}: web-h0 -> ${url}`);
      }
    };
    await eventually(
      async () => {
        await reachable('br_netfilter off');
        return true;
      },
      30_000,
      'twin through its ClusterIP from web-h0',
    );
    try {
      await inH0(`echo 1 > ${brNf}`);
      await reachable('br_netfilter on');
    } finally {
      await inH0(`echo 0 > ${brNf}`);
    }
    // A host that answers ARP for a local address only on the device holding it (arp_ignore 1, as IPVS
    // setups have it; the gateway's address is not on the pods' veths): with their neighbour caches
    // flushed, the pods reach each other, the Service and the resolver on the gateway (whose MAC they hold
    // as a permanent entry).
    const arpIgnore = '/proc/sys/net/ipv4/conf/all/arp_ignore';
    try {
      await inH0(`echo 1 > ${arpIgnore}`);
      for (const pod of ['twin', 'web-h0'])
        await run('nsenter', [`--net=${await podNetns(pod, 'h0')}`, 'ip', 'neigh', 'flush', 'dev', 'eth0']);
      await reachable('arp_ignore 1');
      assert.match(
        await sh('web-h0', 'h0', 'nslookup twin.default.svc.cluster.local 2>&1'),
        new RegExp(`Address:\\s+${ip.replaceAll('.', '\\.')}\\b`),
      );
    } finally {
      await inH0(`echo 0 > ${arpIgnore}`);
    }
    await cli(['delete', 'svc', 'twin']);
  });

  test('the backend changes to host-gw with a restart of every agent: pods keep running and reach each other over plain routes', async () => {
    const before = await Promise.all(NODES.map(async (n) => (await containers(n)).map((c) => c.Id).sort()));
    await w.config('host-gw');
    for (const n of NODES) await w.stopAgent(n);
    await startAgentsReady(w.c);
    await eventually(
      async () => {
        const routes = await ourRoutes(w.host('h0'));
        return Object.values(routes).length === 2 && Object.values(routes).every((v) => / eth0$/.test(v));
      },
      30_000,
      'host-gw routes on h0',
    );
    // Every agent converges on its own: h1's routes and no VXLAN device left on any host.
    const wanted = {
      [await w.subnetOf('h0')]: `${w.host('h0').address} eth0`,
      [await w.subnetOf('h2')]: `${w.host('h2').address} eth0`,
    };
    await eventually(
      async () => isDeepStrictEqual(await ourRoutes(w.host('h1')), wanted),
      30_000,
      `h1's host-gw routes ${JSON.stringify(wanted)}`,
    );
    assert.deepEqual(await ourRoutes(w.host('h1')), wanted);
    await eventually(
      async () => {
        for (const n of NODES)
          if ((await ipIn<unknown[]>(w.host(n), ['-d', 'link', 'show', 'type', 'vxlan'])).length > 0)
            return false;
        return true;
      },
      30_000,
      'no VXLAN device on any host',
    );
    await eventually(
      async () => {
        await everyPair();
        return true;
      },
      30_000,
      'every pod reaches every other over host-gw',
    );
    const now = await Promise.all(NODES.map(async (n) => (await containers(n)).map((c) => c.Id).sort()));
    assert.deepEqual(now, before, 'no container was recreated');
  });

  test('an agent restart changes no rule or route and drops no connection held through a ClusterIP', async () => {
    await applyService('echo', 'web', ECHO_PORT, ECHO_PORT);
    // An echo server in each web pod's network namespace.
    for (const n of NODES)
      serveInNetns(
        await podNetns(`web-${n}`, n),
        `require('net').createServer((s) => s.pipe(s)).listen(${ECHO_PORT})`,
        children,
      );
    const ip = await clusterIp('echo');
    const held = await eventually(
      async () =>
        holdConnection(await podNetns('web-h0', 'h0'), ip, ECHO_PORT, children).catch(() => undefined),
      20_000,
      'a connection through the echo ClusterIP',
    );
    await held.echo('before');
    const before = await Promise.all(NODES.map(kernelState));
    const outputs: string[] = [];
    for (const n of NODES) {
      outputs.push(w.c.agents.get(n)?.output() ?? '');
      await w.stopAgent(n);
      await w.c.startAgent(n);
      await reconciled(w, n, 'etcd');
      await held.echo(`after ${n}`);
    }
    // Converged (each reconciled from etcd): still the same rules (handles and all) and routes.
    const restarted = await Promise.all(NODES.map(kernelState));
    if (!isDeepStrictEqual(restarted, before)) {
      // What reloaded the tables, for the report (a CI run once saw every host's table loaded again).
      for (const n of NODES) outputs.push(w.c.agents.get(n)?.output() ?? '');
      const why = outputs
        .join('\n')
        .split('\n')
        .filter((l) => /service rules|mesh verdict|NodeLost|"dead"|member (dead|left)|leader/.test(l));
      for (const n of NODES) {
        const events = (await runCli(['describe', 'pod', `web-${n}`], w.c.env)).stdout;
        why.push(...events.split('\n').filter((l) => /Unhealthy|Ready/.test(l)));
      }
      console.log(`the tables changed; what the agents said, and the pods' readiness:\n${why.join('\n')}`);
    }
    assert.deepEqual(restarted, before);
    await held.echo('at the end');
    held.close();
  });

  test('after the pods and Services are deleted, no veth, sandbox, address or rule is left on any host', async () => {
    const ruleCount = async (n: string) =>
      (await kernelState(n)).table
        .split('\n')
        .filter((l) => /^\s*chain (service|endpoint|external)-/.test(l) && !/service-endpoints-check/.test(l))
        .length;
    for (const n of NODES) assert.ok((await ruleCount(n)) > 0, `${n} has Service chains before`);
    await cli(['delete', 'svc', 'web', 'web-outside', 'echo']);
    await cli(['delete', 'pod', 'web-h0', 'web-h1', 'web-h2', 'twin', 'hostnet']);
    await eventually(
      async () => {
        const left: string[] = [];
        for (const n of NODES) {
          const cs = await containers(n);
          if (cs.length > 0) left.push(`${n}: containers ${cs.map((c) => c.Names.join()).join(' ')}`);
          const rules = await ruleCount(n);
          if (rules > 0) left.push(`${n}: ${rules} Service chains`);
          const ports = await ipIn<Array<{ ifname: string }>>(w.host(n), [
            'link',
            'show',
            'master',
            bridgeName(w.c.name, n),
          ]);
          if (ports.length > 0) left.push(`${n}: bridge ports ${ports.map((p) => p.ifname).join(' ')}`);
        }
        const list = await pods();
        if (list.length > 0) left.push(`pods ${list.map((p) => p.metadata.name).join(' ')}`);
        if (left.length > 0) throw new Error(left.join('; '));
        return true;
      },
      60_000,
      'every container, veth and Service chain gone',
    );
    for (const n of NODES) {
      // Only the bridge's gateway address is left in the node's subnet.
      const addrs = await ipIn<Array<{ ifname: string; addr_info: Array<{ local: string }> }>>(w.host(n), [
        'addr',
        'show',
      ]);
      const prefix = (await w.subnetOf(n)).split('.').slice(0, 3).join('.');
      const inSubnet = addrs.flatMap((a) =>
        a.addr_info.filter((i) => i.local.startsWith(`${prefix}.`)).map((i) => `${a.ifname} ${i.local}`),
      );
      assert.deepEqual(inSubnet, [`${bridgeName(w.c.name, n)} ${prefix}.1`], n);
    }
  });
});
