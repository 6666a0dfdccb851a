// The pod network on real Docker and the real kernel (agent/podnet): two agents on this machine, each
// node its own subnet of network.podCidr and routed pod veths. Replicas listening on one port share a node, each
// Running at its own IP; pods reach each other and, masqueraded, what is beyond the node; hostNetwork
// pods are on the node's network as before; a hostPort reaches its pod; an agent restart changes nothing
// (same IPs, same containers, an open connection still answers), also when it restarts cut off from etcd
// (from its caches); a pod that ran to completion gives its sandbox and address back; deleting the pods
// leaves no veth, address, sandbox or DNAT rule behind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { cidrContains } from '../agent/net/cidr.ts';
import type { Pod } from '../agent/objects/types.ts';
import { bridgeName, tableName, vethName } from '../agent/podnet/names.ts';
import { podIpsPath } from '../agent/podnet/pod-ips.ts';
import {
  createTestCluster,
  eventually,
  runCli,
  startAgentsReady,
  type TestCluster,
} from './harness/cluster.ts';
import { type Docker, ensureBusyboxImage, execIn, requireDocker } from './harness/docker.ts';
import { freePorts } from './harness/ports.ts';

const run = promisify(execFile);
const POD_CIDR = '10.121.0.0/16';
const BUSYBOX = 'nokube-test/busybox:1';

describe('pod network on Docker', { timeout: 400_000 }, () => {
  let c: TestCluster;
  let docker: Docker;
  let image: string;
  /** A network namespace beyond the node (reached through it: masqueraded), and its server's port. */
  const outside = `nkt-podnet-${process.pid}`;
  const outsideIp = '10.254.121.2';

  const apply = async (yaml: string) => {
    const r = await runCli(['apply', '-f', '-'], c.env, yaml);
    assert.equal(r.code, 0, r.stderr);
  };
  const pods = async (): Promise<Pod[]> => {
    const r = await runCli(['get', 'pods', '-o', 'json'], c.env);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { items: Pod[] }).items;
  };
  const running = async (prefix: string, n: number) =>
    eventually(
      async () => {
        const list = (await pods()).filter((p) => p.metadata.name.startsWith(prefix));
        const ok = list.filter((p) => p.status?.phase === 'Running' && p.status.podIP);
        return list.length === n && ok.length === n ? ok : undefined;
      },
      120_000,
      `${n} pods ${prefix}* Running with an IP`,
    );
  const containerOf = async (pod: string, container: string) => {
    const [info] = await docker.listContainers({
      filters: { label: [`nokube.cluster=${c.name}`, `nokube.pod=${pod}`, `nokube.container=${container}`] },
    });
    assert.ok(info, `container ${container} of ${pod}`);
    return info;
  };
  const httpGet = (host: string, port: number) =>
    new Promise<string>((resolve, reject) => {
      const req = request({ host, port, path: '/', timeout: 5000 }, (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve(body.trim()));
      });
      req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}/ timed out`)));
      req.on('error', reject);
      req.end();
    });
  /** A node's pods' veths (`<ifindex> <name>`, sorted: one made again has a new index): the devices of
   * the routes from its gateway address (a routed veth's /32 route to its pod). */
  const podVeths = async (node: string): Promise<string[]> => {
    const ipj = async <T>(args: string[]): Promise<T[]> =>
      JSON.parse((await run('ip', ['-j', ...args]).catch(() => ({ stdout: '[]' }))).stdout || '[]') as T[];
    const [dev] = await ipj<{ addr_info: Array<{ local: string }> }>([
      '-4',
      'addr',
      'show',
      'dev',
      bridgeName(c.name, node),
    ]);
    const gw = dev?.addr_info[0]?.local;
    if (!gw) return [];
    const routes = await ipj<{ dev: string; prefsrc?: string }>(['-4', 'route', 'show']);
    const out: string[] = [];
    for (const r of routes.filter((r) => r.prefsrc === gw && r.dev.startsWith('nkv'))) {
      const [link] = await ipj<{ ifindex: number; ifname: string }>(['link', 'show', 'dev', r.dev]);
      if (link) out.push(`${link.ifindex} ${link.ifname}`);
    }
    return out.sort();
  };
  /** What this test counts of the kernel and the engine for the cluster. */
  const footprint = async () => {
    let veths = 0;
    for (const n of c.nodes) veths += (await podVeths(n.name)).length;
    let addresses = 0;
    for (const n of c.nodes) {
      const text = await readFile(podIpsPath(join(c.dir, 'ws', n.name)), 'utf8').catch(() => '{"pods":{}}');
      addresses += Object.keys((JSON.parse(text) as { pods: object }).pods).length;
    }
    let dnat = 0;
    for (const n of c.nodes) {
      const { stdout } = await run('nft', ['list', 'table', 'ip', tableName(c.name, n.name)]).catch(() => ({
        stdout: '',
      }));
      dnat += stdout.split('\n').filter((l) => l.includes(' dnat to ')).length;
    }
    const sandboxes = (
      await docker.listContainers({
        all: true,
        filters: { label: [`nokube.cluster=${c.name}`, 'nokube.sandbox'] },
      })
    ).length;
    return { veths, addresses, dnat, sandboxes };
  };

  before(async () => {
    docker = await requireDocker();
    image = await ensureBusyboxImage();
    // The pause image comes from the same script (no registry).
    c = await createTestCluster({
      nodes: 2,
      net: 121,
      sections: `network:\n  podCidr: ${POD_CIDR}\n  serviceCidr: 10.122.0.0/16\n`,
    });
    await startAgentsReady(c);
    // Beyond the node: a namespace on a veth of the host, with a server that says who called.
    await run('ip', ['netns', 'add', outside]);
    await run('ip', [
      'link',
      'add',
      `nkto${process.pid % 100000}`,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      outside,
    ]);
    await run('ip', ['addr', 'add', '10.254.121.1/30', 'dev', `nkto${process.pid % 100000}`]);
    await run('ip', ['link', 'set', `nkto${process.pid % 100000}`, 'up']);
    await run('ip', ['-n', outside, 'addr', 'add', `${outsideIp}/30`, 'dev', 'eth0']);
    await run('ip', ['-n', outside, 'link', 'set', 'eth0', 'up']);
  });
  after(async () => {
    await c?.stop();
    await run('ip', ['link', 'del', `nkto${process.pid % 100000}`]).catch(() => undefined);
    await run('ip', ['netns', 'del', outside]).catch(() => undefined);
  });

  test('replicas on one port share a node, each Running at its own IP, reachable there and from each other', async () => {
    const before = await footprint();
    assert.deepEqual(before, { veths: 0, addresses: 0, dnat: 0, sandboxes: 0 });
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
          command: [sh, -c, 'mkdir -p /www && echo $POD > /www/index.html && exec httpd -f -p 8080 -h /www']
          env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
          ports: [{containerPort: 8080}]
`);
    // Three replicas on two nodes, one port: two of them on one node (without a pod network the third
    // would be unschedulable: the port is the node's).
    const web = await running('web-', 3);
    const ips = web.map((p) => p.status!.podIP!);
    assert.equal(new Set(ips).size, 3, ips.join(' '));
    for (const p of web) {
      assert.ok(cidrContains(POD_CIDR, p.status!.podIP!), p.status!.podIP);
      assert.deepEqual(p.status!.podIPs, [{ ip: p.status!.podIP }]);
      assert.notEqual(p.status!.hostIP, p.status!.podIP);
      assert.equal(await httpGet(p.status!.podIP!, 8080), p.metadata.name);
    }
    const byNode = new Map<string, Pod[]>();
    for (const p of web) byNode.set(p.spec.nodeName!, [...(byNode.get(p.spec.nodeName!) ?? []), p]);
    const pair = [...byNode.values()].find((l) => l.length === 2);
    assert.ok(pair, 'two replicas on one node');
    const [a, b] = pair;
    // Pod to pod on one node, through the node's IP layer; the pod's own name resolves to its IP (/etc/hosts).
    const ct = await containerOf(a!.metadata.name, 'web');
    assert.equal(
      (await execIn(docker, ct.Id, ['wget', '-qO-', `http://${b!.status!.podIP}:8080/`])).trim(),
      b!.metadata.name,
    );
    assert.match(
      await execIn(docker, ct.Id, ['cat', '/etc/hosts']),
      new RegExp(`${a!.status!.podIP}\\s+${a!.metadata.name}`),
    );
    assert.match(
      await execIn(docker, ct.Id, ['ip', '-4', 'addr', 'show', 'eth0']),
      new RegExp(`inet ${a!.status!.podIP}/24`),
    );
    // exec (and logs) see the pod's own container only, not its sandbox.
    const exec = await runCli(['exec', a!.metadata.name, '--', 'cat', '/www/index.html'], c.env);
    assert.deepEqual([exec.code, exec.stdout.trim()], [0, a!.metadata.name], exec.stderr);
    const after = await footprint();
    assert.deepEqual(after, { veths: 3, addresses: 3, dnat: 0, sandboxes: 3 });
  });

  test('outbound traffic beyond the node is masqueraded (the far end sees the node)', async () => {
    const [port] = (await freePorts(1, '127.0.0.1')) as [number];
    // The server in the outside namespace answers with the caller's address.
    const server = execFile('ip', [
      'netns',
      'exec',
      outside,
      process.execPath,
      '-e',
      `require('http').createServer((q, s) => s.end(q.socket.remoteAddress)).listen(${port}, '${outsideIp}')`,
    ]);
    try {
      const [p] = await running('web-', 3);
      const ct = await containerOf(p!.metadata.name, 'web');
      let last = '';
      const seen = await eventually(
        async () => {
          // nc, not wget: this busybox's wget crashes (SIGSEGV) on some answers.
          const get = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${outsideIp} ${port}`;
          last = (await execIn(docker, ct.Id, ['sh', '-c', get])).trim();
          const body = last.split('\n').at(-1)?.trim() ?? '';
          return last.startsWith('HTTP/1.1 200') && body ? body : undefined;
        },
        20_000,
        'the outside server answers the pod',
      ).catch((err: Error) => {
        throw new Error(`${err.message}; wget said: ${last}`);
      });
      assert.equal(seen.replace(/^::ffff:/, ''), '10.254.121.1');
    } finally {
      server.kill('SIGKILL');
    }
  });

  test('hostNetwork pods are on the node as before; a hostPort reaches its pod', async () => {
    const [hostNetPort, hostPort] = (await freePorts(2, '0.0.0.0')) as [number, number];
    const n2 = c.nodes[1]!;
    await apply(`apiVersion: v1
kind: Pod
metadata: {name: onhost}
spec:
  nodeName: n2
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
    - name: web
      image: ${image}
      command: [sh, -c, 'mkdir -p /www && echo onhost > /www/index.html && exec httpd -f -p ${n2.address}:${hostNetPort} -h /www']
---
apiVersion: v1
kind: Pod
metadata: {name: mapped}
spec:
  nodeName: n2
  terminationGracePeriodSeconds: 1
  containers:
    - name: web
      image: ${image}
      command: [sh, -c, 'mkdir -p /www && echo mapped > /www/index.html && exec httpd -f -p 8080 -h /www']
      ports: [{containerPort: 8080, hostPort: ${hostPort}}]
`);
    const [onhost] = await running('onhost', 1);
    assert.equal(onhost!.status!.podIP, n2.address);
    assert.equal(await httpGet(n2.address, hostNetPort), 'onhost');
    const onhostCt = await docker.getContainer((await containerOf('onhost', 'web')).Id).inspect();
    assert.equal(onhostCt.HostConfig.NetworkMode, 'host');
    const [mapped] = await running('mapped', 1);
    assert.ok(cidrContains(POD_CIDR, mapped!.status!.podIP!));
    assert.equal(await httpGet(n2.address, hostPort), 'mapped');
    assert.equal((await footprint()).dnat, 2, 'one rule in prerouting, one in output');
  });

  test('an agent restart changes nothing: same IPs, same containers, an open connection still answers', async () => {
    await apply(`apiVersion: v1
kind: Pod
metadata: {name: echo}
spec:
  nodeName: n2
  terminationGracePeriodSeconds: 1
  containers:
    - name: echo
      image: ${image}
      command: [nc, -ll, -p, '9000', -e, cat]
`);
    const [echo] = await running('echo', 1);
    const ip = echo!.status!.podIP!;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(9000, ip, () => resolve(s)).on('error', reject);
    });
    const lines: string[] = [];
    socket.on('data', (d) => lines.push(...String(d).split('\n').filter(Boolean)));
    const roundTrip = async (text: string) => {
      socket.write(`${text}\n`);
      await eventually(() => lines.includes(text), 10_000, `echo of ${text}`);
    };
    await roundTrip('before');
    const before = await pods();
    const onN1 = before.filter((p) => p.spec.nodeName === 'n2').map((p) => p.metadata.name);
    // The containers (with the sandboxes) of n2's pods, the veths of n2's pods (by ifindex: one made
    // again has a new one) and n2's table with its handles (a table made again has new ones).
    const containers = async () =>
      (await docker.listContainers({ filters: { label: [`nokube.cluster=${c.name}`, 'nokube.node=n2'] } }))
        .filter((x) => onN1.includes(x.Labels['nokube.pod']!))
        .map((x) => `${x.Id} ${x.State}`)
        .sort();
    const veths = () => podVeths('n2');
    const table = async () =>
      (await run('nft', ['-a', 'list', 'table', 'ip', tableName(c.name, 'n2')])).stdout;
    const [ctBefore, vethsBefore, tableBefore] = [await containers(), await veths(), await table()];
    assert.ok(ctBefore.length >= 2 && vethsBefore.length >= 1);

    await c.agents.get('n2')!.kill('SIGKILL');
    await c.startAgent('n2');
    // Proof that the new agent is at work: it runs a new pod (its other pods were kicked before that).
    await apply(`apiVersion: v1
kind: Pod
metadata: {name: later}
spec:
  nodeName: n2
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${image}
      command: [sleep, '3600']
`);
    await running('later', 1);
    const now = await pods();
    for (const p of before)
      assert.equal(
        now.find((x) => x.metadata.uid === p.metadata.uid)?.status?.podIP,
        p.status?.podIP,
        p.metadata.name,
      );
    await roundTrip('after');
    assert.deepEqual(await containers(), ctBefore);
    const vethsAfter = await veths();
    for (const v of vethsBefore) assert.ok(vethsAfter.includes(v), `${v} kept`);
    assert.equal(vethsAfter.length, vethsBefore.length + 1);
    assert.equal(await table(), tableBefore);
    socket.destroy();
  });

  test('cut off from etcd, a restarted agent runs its pods from its caches at their IPs', async () => {
    const [later] = await running('later', 1);
    const ip = later!.status!.podIP!;
    const sandbox = (
      await docker.listContainers({
        filters: { label: [`nokube.cluster=${c.name}`, 'nokube.pod=later', 'nokube.sandbox'] },
      })
    )[0]!;
    await c.agents.get('n2')!.kill('SIGKILL');
    // Its container gone while the agent is away: made again from the cache, in the same sandbox.
    await docker.getContainer((await containerOf('later', 'main')).Id).remove({ force: true });
    await c.etcd.pause();
    try {
      await c.startAgent('n2');
      const ct = await eventually(
        async () => {
          const [x] = await docker.listContainers({
            filters: { label: [`nokube.cluster=${c.name}`, 'nokube.pod=later', 'nokube.container=main'] },
          });
          return x?.State === 'running' ? x : undefined;
        },
        60_000,
        "later's container made again with etcd away",
      );
      const info = await docker.getContainer(ct.Id).inspect();
      assert.equal(info.HostConfig.NetworkMode, `container:${sandbox.Id}`);
      assert.match(
        await execIn(docker, ct.Id, ['ip', '-4', 'addr', 'show', 'eth0']),
        new RegExp(`inet ${ip}/24`),
      );
    } finally {
      await c.etcd.resume();
    }
  });

  test('a pod that ran to completion gives its sandbox, veth and address back and keeps its podIP', async () => {
    await apply(`apiVersion: v1
kind: Pod
metadata: {name: done}
spec:
  nodeName: n1
  restartPolicy: Never
  containers:
    - {name: main, image: ${image}, command: [sh, -c, 'ip -4 -o addr show eth0']}
`);
    const pod = await eventually(
      async () => (await pods()).find((p) => p.metadata.name === 'done' && p.status?.phase === 'Succeeded'),
      60_000,
      'done Succeeded',
    );
    const ip = pod.status!.podIP!;
    assert.ok(cidrContains(POD_CIDR, ip), ip);
    // It ran on the pod network, at that address.
    const [exited] = await docker.listContainers({
      all: true,
      filters: { label: [`nokube.cluster=${c.name}`, 'nokube.pod=done', 'nokube.container=main'] },
    });
    const ct = docker.getContainer(exited!.Id);
    assert.match((await ct.logs({ stdout: true })).toString(), new RegExp(`inet ${ip}/24`));
    const veth = vethName(pod.metadata.uid!);
    await eventually(
      async () => {
        const sandboxes = await docker.listContainers({
          all: true,
          filters: { label: [`nokube.cluster=${c.name}`, 'nokube.pod=done', 'nokube.sandbox'] },
        });
        const ips = await readFile(podIpsPath(join(c.dir, 'ws', 'n1')), 'utf8');
        const link = await run('ip', ['link', 'show', 'dev', veth]).then(
          () => true,
          () => false,
        );
        return sandboxes.length === 0 && !ips.includes(pod.metadata.uid!) && !link;
      },
      30_000,
      "done's sandbox, address and veth given back",
    );
    // The exited container stays (its logs), and the status still says where the pod ran.
    assert.equal((await ct.inspect()).State.Status, 'exited');
    const again = (await pods()).find((p) => p.metadata.name === 'done')!;
    assert.equal(again.status?.phase, 'Succeeded');
    assert.equal(again.status?.podIP, ip);
  });

  test('deleting the pods removes their veths, addresses, sandboxes and host port rules', async () => {
    for (const args of [
      ['delete', 'deployment', 'web'],
      ['delete', 'pod', 'onhost', 'mapped', 'echo', 'later', 'done'],
    ]) {
      const r = await runCli(args, c.env);
      assert.equal(r.code, 0, r.stderr);
    }
    await eventually(async () => (await pods()).length === 0, 60_000, 'every pod gone');
    await eventually(
      async () => {
        const f = await footprint();
        return f.veths === 0 && f.addresses === 0 && f.dnat === 0 && f.sandboxes === 0 ? f : undefined;
      },
      30_000,
      'nothing of the pods left',
    );
  });
});

describe('pod network: a sandbox image that cannot be pulled', { timeout: 200_000 }, () => {
  let c: TestCluster;
  before(async () => {
    await requireDocker();
    c = await createTestCluster({
      nodes: 1,
      net: 123,
      // Nothing listens on port 9: the pull fails at once.
      sections:
        'network:\n  podCidr: 10.125.0.0/16\n  serviceCidr: 10.126.0.0/16\n  sandboxImage: 127.0.0.1:9/none:1\n',
    });
    await startAgentsReady(c);
  });
  after(async () => {
    await c?.stop();
  });

  test("the pod's containers wait as ContainerCreating, saying why; no container is made", async () => {
    const r = await runCli(
      ['apply', '-f', '-'],
      c.env,
      `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  nodeName: n1\n  containers:\n    - {name: main, image: ${BUSYBOX}, command: [sleep, '3600']}\n`,
    );
    assert.equal(r.code, 0, r.stderr);
    const waiting = await eventually(
      async () => {
        const g = await runCli(['get', 'pod', 'p', '-o', 'json'], c.env);
        const pod = JSON.parse(g.stdout) as Pod;
        return pod.status?.containerStatuses?.[0]?.state.waiting;
      },
      60_000,
      'the container waiting',
    );
    assert.equal(waiting.reason, 'ContainerCreating');
    assert.match(
      waiting.message ?? '',
      /pod sandbox image "127\.0\.0\.1:9\/none:1" cannot be pulled \(tried again every 30 s\)/,
    );
    const docker = await requireDocker();
    assert.deepEqual(
      await docker.listContainers({ all: true, filters: { label: [`nokube.cluster=${c.name}`] } }),
      [],
    );
  });
});
