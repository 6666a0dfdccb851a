// Images from peers (issue 19 item 2) on four netns hosts with their own Docker engines and agents, in two
// sites (label topology.kubernetes.io/zone: h0, h1 in a; h2, h3 in b), with Debian's docker-registry (its
// access log read) as the uplink: each image is fetched from the registry once per site and the rest comes
// from peers over the mesh; a transfer cut in the middle resumes from where it stopped; the bandwidth cap
// (nodes[].imageBandwidth) paces it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { connectEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import {
  createTestCluster,
  eventually,
  runCli,
  startAgentsReady,
  type TestCluster,
} from './harness/cluster.ts';
import {
  ensureBusyboxImage,
  pushImage,
  requireDocker,
  startRegistry,
  type TestRegistry,
} from './harness/docker.ts';
import { startTestHosts, type TestHosts } from './harness/hosts.ts';

const run = promisify(execFile);
const ZONE = 'topology.kubernetes.io/zone';
const SITE: Record<string, string> = { h0: 'a', h1: 'a', h2: 'b', h3: 'b' };
const MB = 1024 * 1024;

describe('images from peers, two sites of two hosts', { timeout: 600_000 }, () => {
  let hosts: TestHosts;
  let c: TestCluster;
  let registry: TestRegistry;
  let machine: Docker;
  let busybox: string;
  const engines = new Map<string, Docker>();

  const ok = async (args: string[]) => {
    const r = await runCli(args, c.env);
    assert.equal(r.code, 0, `nokube ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const upstream = () => `${hosts.gateway}:${registry.host.split(':')[1]}`;
  /** An image of `mb` MiB of random bytes on busybox, in the registry only. */
  const image = async (name: string, mb: number) => {
    const ct = await machine.createContainer({
      Image: busybox,
      Cmd: ['sh', '-c', `dd if=/dev/urandom of=/payload bs=1M count=${mb} 2>/dev/null`],
    });
    await ct.start();
    await ct.wait();
    await ct.commit({ repo: `nokube-peers/${name}`, tag: '1' });
    await ct.remove();
    await pushImage(machine, `nokube-peers/${name}:1`, registry.host, `${name}:1`);
    await machine
      .getImage(`nokube-peers/${name}:1`)
      .remove()
      .catch(() => undefined);
    return `${upstream()}/${name}:1`;
  };
  const hostOf = (node: string) => hosts.hosts.find((h) => h.name === node)!;
  /** Which hosts asked the registry for the image's manifest (by address). */
  const registryClients = (name: string) =>
    new Set(
      registry.requests
        .filter((l) => l.includes(`/v2/${name}/manifests/`))
        .map((l) => l.split(' ')[0]!)
        .map((ip) => hosts.hosts.find((h) => h.address === ip)?.name ?? ip),
    );
  const holds = async (node: string, ref: string) =>
    engines
      .get(node)!
      .getImage(ref)
      .inspect()
      .then(
        (i) => i.Id,
        () => undefined,
      );
  const metric = async (node: string, re: RegExp) => {
    const text = await (await fetch(`${c.agentUrl(node)}/metrics`)).text();
    return Number(re.exec(text)?.[1] ?? 0);
  };

  before(async () => {
    machine = await requireDocker();
    busybox = await ensureBusyboxImage();
    hosts = await startTestHosts(4, { sshd: false, docker: true });
    registry = await startRegistry({ everywhere: true, accessLog: true });
    for (const h of hosts.hosts) {
      const e = new Docker({ socketPath: h.dockerSocket! });
      engines.set(h.name, e);
    }
    c = await createTestCluster({
      nodes: hosts.hosts.map((h, i) => ({
        name: h.name,
        address: h.address,
        roles: i === 0 ? ['head', 'worker'] : ['worker'],
        labels: { [ZONE]: SITE[h.name]! },
        dockerSocket: h.dockerSocket!,
        ...(h.name === 'h1' ? { fields: { imageBandwidth: '2Mi' } } : {}),
      })),
      etcdHost: hosts.gateway,
      wrap: (node) => ['ip', 'netns', 'exec', hostOf(node).netns],
      namePrefix: 'ip',
    });
    await startAgentsReady(c);
  });
  after(async () => {
    await c?.stop();
    await registry?.stop();
    await hosts?.stop();
  });

  test('one registry fetch per site; the other node of each site gets the image from its peer', async () => {
    const ref = await image('site-once', 4);
    await ok([
      'prewarm',
      'create',
      '--name',
      'sites',
      '--image',
      ref,
      '--batch-size',
      '4',
      '--wait',
      '--timeout',
      '3m',
    ]);
    const ids = await Promise.all(['h0', 'h1', 'h2', 'h3'].map((n) => holds(n, ref)));
    assert.ok(
      ids.every((id) => id && id === ids[0]),
      `every node holds the same image: ${ids.join(', ')}`,
    );
    const clients = [...registryClients('site-once')].sort();
    assert.equal(clients.length, 2, `registry clients: ${clients.join(', ')}`);
    assert.deepEqual(clients.map((n) => SITE[n]).sort(), ['a', 'b'], 'one per site');
    let peer = 0;
    for (const n of ['h0', 'h1', 'h2', 'h3'])
      peer += await metric(n, /^nokube_image_fetches_total\{(?=[^}]*source="peer")[^}]*\} (\d+)/m);
    assert.equal(peer, 2, 'two nodes fetched from a peer');
  });

  test('a transfer cut in the middle resumes from where it stopped; the cap paces it', async () => {
    // h0 fetches from the registry; h1 (2 MiB/s) from h0: 16 MiB take about 8 s.
    const ref = await image('resume', 16);
    const inBefore = await metric(
      'h1',
      /^nokube_image_peer_bytes_total\{(?=[^}]*direction="in")[^}]*\} (\d+)/m,
    );
    await ok([
      'prewarm',
      'create',
      '--name',
      'resume',
      '--image',
      ref,
      '--batch-size',
      '1',
      '--selector',
      `${ZONE}=a`,
    ]);
    // h0 first (batch 1), then h1 from h0: wait until h1 has received some of it, then cut h1 off h0.
    await eventually(
      async () =>
        (await metric('h1', /^nokube_image_peer_bytes_total\{(?=[^}]*direction="in")[^}]*\} (\d+)/m)) -
          inBefore >
        3 * MB,
      120_000,
      'h1 receiving from h0',
    );
    const h1 = hostOf('h1');
    await run('ip', [
      'netns',
      'exec',
      h1.netns,
      'nft',
      `add table ip nkcut; add chain ip nkcut out { type filter hook output priority 0; }; add rule ip nkcut out ip daddr ${hostOf('h0').address} drop; add chain ip nkcut in { type filter hook input priority 0; }; add rule ip nkcut in ip saddr ${hostOf('h0').address} drop`,
    ]);
    await eventually(
      () => c.agents.get('h1')!.output().includes('fetching an image from a peer failed'),
      120_000,
      "h1's fetch to fail on the cut link",
    );
    await run('ip', ['netns', 'exec', h1.netns, 'nft', 'delete table ip nkcut']);
    await ok(['prewarm', 'wait', 'resume', '--timeout', '3m']);
    assert.equal(await holds('h1', ref), await holds('h0', ref));
    assert.ok(
      c.agents.get('h1')!.output().includes('resuming an image fetch from a peer'),
      'the fetch resumed',
    );
    assert.deepEqual([...registryClients('resume')], ['h0'], 'the registry served site a once');
    const received = await metric(
      'h1',
      /^nokube_image_peer_bytes_total\{(?=[^}]*direction="in")[^}]*\} (\d+)/m,
    );
    // h0 served it twice: from 0, then from where h1 had got to; h1 received each byte once.
    const served = [
      ...c.agents
        .get('h0')!
        .output()
        .matchAll(/resume:1","offset":(\d+),"size":(\d+)/g),
    ];
    assert.equal(served.length, 2, 'two requests: the first and the resumed one');
    assert.ok(Number(served[1]![1]) > 0, 'the second from an offset');
    assert.equal(received - inBefore, Number(served[0]![2]), 'every byte of the archive received once');
  });

  test('the bandwidth cap: 8 MiB to h1 at 2 MiB/s take at least 3 s (a second of burst)', async () => {
    const ref = await image('capped', 8);
    // Every version of h1's node status (an etcd watch sees each revision: the Pulled outcome goes again
    // as soon as the task's request is removed).
    const etcd = await connectEtcd({ endpoints: [c.etcd.url], dialTimeoutMs: 3000 });
    const seen: Array<{ image: string; state: string; time: string }> = [];
    const watcher = await etcd.watch().key(keys.nodeStatus(c.name, 'h1')).create();
    watcher.on('put', (kv) =>
      seen.push(...(JSON.parse(kv.value.toString()) as { pulls: typeof seen }).pulls),
    );
    try {
      await ok([
        'prewarm',
        'create',
        '--name',
        'capped',
        '--image',
        ref,
        '--batch-size',
        '1',
        '--selector',
        `${ZONE}=a`,
      ]);
      await ok(['prewarm', 'wait', 'capped', '--timeout', '3m']);
    } finally {
      await watcher.cancel();
      etcd.close();
    }
    const began = seen.find((p) => p.image === ref && p.state === 'Pulling')?.time;
    const ended = seen.find((p) => p.image === ref && p.state === 'Pulled')?.time;
    assert.ok(began && ended, `h1's pull seen begin and end: ${JSON.stringify(seen)}`);
    const seconds = (Date.parse(ended) - Date.parse(began)) / 1000;
    assert.ok(seconds >= 3, `8 MiB at 2 MiB/s took ${seconds} s`);
    assert.deepEqual([...registryClients('capped')], ['h0']);
  });
});
