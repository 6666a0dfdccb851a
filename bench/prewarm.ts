// bench/prewarm: prewarm 3 images on 6 nodes in batches of 2, against every node pulling from the registry
// at once (one batch of 6, images.peers off), and all at once with peers: time until the task completed,
// and the bytes that crossed the uplink (what the registry served, from its access log).
//   node bench/prewarm.ts [--size-mb 20] [--rounds 1] [--uplink-mbit 100]
// Six netns hosts, each with its own Docker engine and agent (h0 the head), a real etcd, Debian's
// docker-registry on the hosts' gateway as the upstream, behind a thin uplink: a token bucket (tc tbf) of
// --uplink-mbit on what the root side's bridge sends to the hosts (the registry's answers; traffic between
// hosts is switched by the bridge and not shaped). Each image is busybox plus its own layer of
// --size-mb random bytes (incompressible), so every fetch moves it whole. All six nodes are one site (no
// zone label). Between runs the images are removed from every engine. Everything it makes is removed at
// the end, also on Ctrl-C.
import { execFile } from 'node:child_process';
import { parseArgs, promisify } from 'node:util';
import Docker from 'dockerode';
import { createTestCluster, runCli, startAgentsReady, type TestCluster } from '../test/harness/cluster.ts';
import {
  ensureBusyboxImage,
  pushImage,
  requireDocker,
  startRegistry,
  type TestRegistry,
} from '../test/harness/docker.ts';
import { startTestHosts, type TestHosts } from '../test/harness/hosts.ts';
import { cleanupOnSignals } from './cleanup.ts';

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '20' },
    rounds: { type: 'string', default: '1' },
    'uplink-mbit': { type: 'string', default: '100' },
  },
});
const SIZE_MB = Number(values['size-mb']);
const ROUNDS = Number(values.rounds);
const NODES = 6;
const UPLINK_MBIT = Number(values['uplink-mbit']);

let hosts: TestHosts | undefined;
let c: TestCluster | undefined;
let registry: TestRegistry | undefined;
const cleanup = async () => {
  await c?.stop().catch(() => undefined);
  await registry?.stop().catch(() => undefined);
  await hosts?.stop().catch(() => undefined);
};
cleanupOnSignals(cleanup);

/** Bytes the registry served in its responses (the access log's size field). */
const servedBytes = (lines: string[]) =>
  lines.reduce((n, l) => n + Number(/" \d{3} (\d+)/.exec(l)?.[1] ?? 0), 0);

async function main(): Promise<void> {
  const machine = await requireDocker();
  const busybox = await ensureBusyboxImage();
  hosts = await startTestHosts(NODES, { sshd: false, docker: true });
  registry = await startRegistry({ everywhere: true, accessLog: true });
  await promisify(execFile)('tc', [
    'qdisc',
    'add',
    'dev',
    hosts.bridge,
    'root',
    'tbf',
    'rate',
    `${UPLINK_MBIT}mbit`,
    'burst',
    '256kb',
    'latency',
    '100ms',
  ]);
  const upstream = `${hosts.gateway}:${registry.host.split(':')[1]}`;
  // Three images, each with its own incompressible layer.
  const images: string[] = [];
  for (const name of ['pw-one', 'pw-two', 'pw-three']) {
    const ct = await machine.createContainer({
      Image: busybox,
      Cmd: ['sh', '-c', `dd if=/dev/urandom of=/payload bs=1M count=${SIZE_MB} 2>/dev/null`],
    });
    await ct.start();
    await ct.wait();
    const local = `nokube-bench/${name}:1`;
    await ct.commit({ repo: `nokube-bench/${name}`, tag: '1' });
    await ct.remove();
    await pushImage(machine, local, registry.host, `${name}:1`);
    await machine
      .getImage(local)
      .remove()
      .catch(() => undefined);
    images.push(`${upstream}/${name}:1`);
  }
  const engines = hosts.hosts.map((h) => new Docker({ socketPath: h.dockerSocket! }));
  c = await createTestCluster({
    nodes: hosts.hosts.map((h, i) => ({
      name: h.name,
      address: h.address,
      roles: i === 0 ? ['head', 'worker'] : ['worker'],
      dockerSocket: h.dockerSocket!,
    })),
    etcdHost: hosts.gateway,
    wrap: (node) => ['ip', 'netns', 'exec', hosts!.hosts.find((h) => h.name === node)!.netns],
    namePrefix: 'bpw',
  });
  await startAgentsReady(c);
  const peers = async (on: boolean) => {
    const r = await runCli(['config', 'set', 'images.peers', String(on)], c!.env);
    if (r.code !== 0) throw new Error(`config set images.peers: ${r.stderr}`);
  };

  const once = async (batch: number, name: string) => {
    for (const e of engines)
      for (const ref of images)
        await e
          .getImage(ref)
          .remove({ force: true })
          .catch(() => undefined);
    const before = servedBytes(registry!.requests);
    const started = performance.now();
    const r = await runCli(
      [
        'prewarm',
        'create',
        '--name',
        name,
        ...images.flatMap((i) => ['--image', i]),
        '--batch-size',
        String(batch),
        '--wait',
        '--timeout',
        '10m',
      ],
      c!.env,
    );
    const seconds = (performance.now() - started) / 1000;
    if (r.code !== 0) throw new Error(`prewarm ${name}: ${r.stderr}`);
    const bytes = servedBytes(registry!.requests) - before;
    return { seconds, mb: bytes / 1e6 };
  };

  const rows: Array<[string, number, number]> = [];
  for (let round = 1; round <= ROUNDS; round++) {
    await peers(true);
    const batched = await once(2, `batched-${round}`);
    const allPeers = await once(NODES, `all-peers-${round}`);
    await peers(false);
    const all = await once(NODES, `all-${round}`);
    process.stderr.write(
      `round ${round}: batches of 2 with peers ${batched.seconds.toFixed(1)} s ${batched.mb.toFixed(0)} MB; all at once with peers ${allPeers.seconds.toFixed(1)} s ${allPeers.mb.toFixed(0)} MB; all at once from the registry ${all.seconds.toFixed(1)} s ${all.mb.toFixed(0)} MB\n`,
    );
    rows.push(
      [`batches of 2, peers (round ${round})`, batched.seconds, batched.mb],
      [`all 6 at once, peers (round ${round})`, allPeers.seconds, allPeers.mb],
      [`all 6 at once from the registry (round ${round})`, all.seconds, all.mb],
    );
  }
  process.stdout.write(
    `3 images of ${SIZE_MB} MiB of random bytes (+ busybox) on ${NODES} nodes, one site; uplink ${UPLINK_MBIT} Mbit/s\n`,
  );
  process.stdout.write('| run | time (s) | bytes over the uplink (MB) |\n| --- | --- | --- |\n');
  for (const [what, s, mb] of rows)
    process.stdout.write(`| ${what} | ${s.toFixed(1)} | ${mb.toFixed(0)} |\n`);
}

main()
  .catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  })
  .finally(cleanup);
