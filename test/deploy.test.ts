// Deploy over SSH end to end: 4 netns hosts with sshd, etcd on the root side (their gateway), the built
// binary uploaded and run as a process service on each (pods on the machine's Docker engine). From
// nothing -> all registered and in one mesh; rerun -> no change; a label on one node -> only that node
// restarted; a 4th host that fails to start -> the run stops naming it, the others untouched, and the
// rerun after the fix continues with it alone; a node removed from the config -> drained (its pods run
// elsewhere) and stopped; a wrong host key -> the run stops naming that node.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import type { Etcd3 } from 'etcd3';
import { validateConfigText } from '../agent/config/validate.ts';
import { applyManifests } from '../agent/objects/apply.ts';
import { listObjects } from '../agent/objects/store.ts';
import { validateManifestText } from '../agent/objects/validate.ts';
import { wellKnownLabels } from '../agent/start/node-record.ts';
import { createEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import { listNodes } from '../agent/store/node-registry.ts';
import { deployOverSsh } from '../head/cli/deploy/deploy.ts';
import { type LocalBinary, observeNode } from '../head/cli/deploy/node-deploy.ts';
import { nodeTarget } from '../head/cli/deploy/node-target.ts';
import { openSession } from '../head/cli/deploy/ssh/session.ts';
import { eventually } from './harness/cluster.ts';
import {
  copiedBinary,
  type DeployedNodeSpec,
  deployConfigText,
  stopDeployedAgents,
  testDeployOptions,
} from './harness/deployed.ts';
import { ensureBusyboxImage, removeContainers, requireDocker } from './harness/docker.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { startTestHosts, type TestHosts } from './harness/hosts.ts';

const CLUSTER = 'deploy-test';
const run_ = promisify(execFile);

describe('new-or-update over SSH (4 netns hosts)', { timeout: 600_000 }, () => {
  let th: TestHosts;
  let etcdServer: TestEtcd;
  let etcd: Etcd3;
  let docker: Docker;
  let binary: LocalBinary;
  const out: string[] = [];
  const started = new Set<string>();

  /** The cluster on hosts `names` (h0 is the head), with labels per node and h2's known_hosts file. */
  const configText = (
    o: { names?: string[]; labels?: Record<string, Record<string, string>>; h2KnownHosts?: string } = {},
  ) => {
    const names = o.names ?? ['h0', 'h1', 'h2'];
    const nodes: DeployedNodeSpec[] = th.hosts
      .filter((h) => names.includes(h.name))
      .map((host) => ({
        host,
        roles: host.name === 'h0' ? ['head', 'worker'] : ['worker'],
        labels: o.labels?.[host.name] ?? {},
        ...(host.name === 'h2' && o.h2KnownHosts ? { knownHosts: o.h2KnownHosts } : {}),
      }));
    const text = deployConfigText(th, {
      cluster: CLUSTER,
      etcd: { endpoints: [etcdServer.url] },
      headPort: 7480,
      meshPort: 7946,
      nodes,
    });
    started.add(text);
    return text;
  };

  const run = (text: string, dryRun = false) =>
    deployOverSsh(testDeployOptions({ text, binary, etcd: async () => etcd, out, dryRun }));

  /** The agent's pid on each host of the config (null: not running or not installed). */
  const pids = async (text: string) => {
    const config = validateConfigText(text, 'cluster.yaml').config;
    const res: Record<string, number | null> = {};
    for (const n of config.nodes) {
      const t = nodeTarget(config, n);
      const s = await openSession(t.node, 5000);
      try {
        res[n.name] = (await observeNode(s, t))?.service.pid ?? null;
      } finally {
        s.close();
      }
    }
    return res;
  };
  const registered = async () => (await listNodes(etcd, CLUSTER)).map((n) => n.name);

  before(async () => {
    docker = await requireDocker();
    th = await startTestHosts(4);
    etcdServer = await startTestEtcd(th.gateway);
    etcd = await createEtcd({ endpoints: [etcdServer.url], dialTimeoutMs: 2000 });
    binary = await copiedBinary();
  });
  after(async () => {
    if (th) for (const text of started) await stopDeployedAgents(text);
    if (docker) await removeContainers(docker, { 'nokube.cluster': CLUSTER }).catch(() => undefined);
    etcd?.close();
    await etcdServer?.stop();
    await th?.stop();
    if (out.length) process.stdout.write(`# deploy output:\n${out.join('')}`);
  });

  test('from nothing: a dry run plans an install on every host and changes nothing', async () => {
    const { plans } = await run(configText(), true);
    assert.deepEqual(
      plans.map((p) => p.change),
      ['install', 'install', 'install'],
    );
    assert.deepEqual(await pids(configText()), { h0: null, h1: null, h2: null });
  });

  test('the CLI: --dry-run prints the plan; without --yes and no terminal it refuses; nothing changes', async () => {
    const home = await mkdtemp(join(tmpdir(), 'nokube-deploy-home-'));
    const file = join(home, 'cluster.yaml');
    await writeFile(file, configText());
    const cli = (args: string[]) =>
      run_(binary.path, ['new-or-update', file, ...args], { env: { ...process.env, NOKUBE_HOME: home } });
    const dry = await cli(['--dry-run']);
    assert.match(
      dry.stdout,
      /^Plan for cluster "deploy-test":\n {2}\+ h0: install \(upload-binary, upload-config, start\)$/m,
    );
    assert.match(dry.stdout, /^Plan: 3 of 3 hosts to change\.$/m);
    await assert.rejects(cli([]), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /not a terminal: pass --yes to apply the plan/);
      return true;
    });
    assert.deepEqual(await pids(configText()), { h0: null, h1: null, h2: null });
  });

  test('from nothing: agents installed and running, registered in etcd, one mesh', async () => {
    const { rows } = await run(configText());
    assert.deepEqual(
      rows.map((r) => [r.node, r.change, r.state]),
      ['h0', 'h1', 'h2'].map((h) => [h, 'install', 'running']),
    );
    assert.deepEqual(await registered(), ['h0', 'h1', 'h2']);
    // Every agent's own view: all three alive (the deploy waited for this; checked here from outside).
    for (const h of th.hosts.slice(0, 3)) {
      const text = await (await fetch(`http://${h.address}:7947/metrics`)).text();
      assert.match(text, /^nokube_mesh_members\{[^}]*state="alive"[^}]*\} 3$/m, h.name);
    }
  });

  test('rerun: no change on any host', async () => {
    const before = await pids(configText());
    const { plans } = await run(configText());
    assert.deepEqual(
      plans.map((p) => p.change),
      ['nothing to do', 'nothing to do', 'nothing to do'],
    );
    assert.deepEqual(await pids(configText()), before);
    assert.match(out.join(''), /No change on any host\./);
  });

  test('a label on h1: only h1 restarted', async () => {
    const before = await pids(configText());
    const text = configText({ labels: { h1: { zone: 'b' } } });
    const { plans } = await run(text);
    assert.deepEqual(
      plans.map((p) => p.change),
      ['nothing to do', 'config change', 'nothing to do'],
    );
    const now = await pids(text);
    assert.equal(now.h0, before.h0);
    assert.equal(now.h2, before.h2);
    assert.notEqual(now.h1, before.h1);
    const h1 = (await listNodes(etcd, CLUSTER)).find((n) => n.name === 'h1');
    // The config's labels, beside the well-known ones every record carries.
    assert.deepEqual(h1?.labels, { ...wellKnownLabels('h1'), zone: 'b' });
  });

  test('a 4th host that cannot start stops the run naming it; after the fix the rerun starts it alone', async () => {
    const four = configText({ names: ['h0', 'h1', 'h2', 'h3'], labels: { h1: { zone: 'b' } } });
    const before = await pids(configText({ labels: { h1: { zone: 'b' } } }));
    // h3's workspace is a file: its agent cannot start.
    const h3 = th.hosts[3]!;
    await rm(h3.workspaceDir, { recursive: true, force: true });
    await writeFile(h3.workspaceDir, 'not a directory\n');
    await assert.rejects(run(four), /^Error: h3: start: /);
    const after1 = await pids(four);
    assert.deepEqual({ h0: after1.h0, h1: after1.h1, h2: after1.h2 }, before);
    assert.equal(after1.h3, null);

    await rm(h3.workspaceDir, { force: true });
    const { plans, rows } = await run(four);
    assert.deepEqual(
      plans.map((p) => [p.node, p.change, p.steps]),
      [
        ['h0', 'nothing to do', []],
        ['h1', 'nothing to do', []],
        ['h2', 'nothing to do', []],
        ['h3', 'start', ['start']],
      ],
    );
    assert.equal(rows.find((r) => r.node === 'h3')?.state, 'running');
    assert.deepEqual(await registered(), ['h0', 'h1', 'h2', 'h3']);
    const after2 = await pids(four);
    assert.deepEqual({ h0: after2.h0, h1: after2.h1, h2: after2.h2 }, before);
  });

  test('h2 removed from the config: drained (its pods run elsewhere), stopped, forgotten', async () => {
    const image = await ensureBusyboxImage();
    const manifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: spread}
spec:
  replicas: 4
  selector: {matchLabels: {app: spread}}
  template:
    metadata: {labels: {app: spread}}
    spec:
      containers:
        - name: main
          image: ${image}
          command: [sleep, '3600']
`;
    await applyManifests(etcd, CLUSTER, validateManifestText(manifest, 'spread.yaml'), 'deploy-test');
    const runningOn = async () => {
      const pods = await listObjects(etcd, CLUSTER, 'Pod');
      return pods.filter((p) => p.object.status?.phase === 'Running').map((p) => p.object.spec.nodeName!);
    };
    await eventually(async () => (await runningOn()).length === 4, 60_000, '4 pods running');
    assert.ok((await runningOn()).includes('h2'), `a pod on h2 before the removal: ${await runningOn()}`);

    const without = configText({ names: ['h0', 'h1', 'h3'], labels: { h1: { zone: 'b' } } });
    const { plans, rows } = await run(without);
    assert.deepEqual(
      plans.map((p) => [p.node, p.change]),
      [
        ['h0', 'nothing to do'],
        ['h1', 'nothing to do'],
        ['h3', 'nothing to do'],
        ['h2', 'remove'],
      ],
    );
    assert.equal(rows.find((r) => r.node === 'h2')?.state, 'removed');
    const on = await runningOn();
    assert.equal(on.length, 4, `4 pods running after the drain: ${on}`);
    assert.ok(!on.includes('h2'), `no pod on h2: ${on}`);
    const h2 = th.hosts[2]!;
    const cfg = validateConfigText(configText(), 'cluster.yaml').config;
    const t = nodeTarget(cfg, cfg.nodes.find((n) => n.name === 'h2')!);
    const s = await openSession(t.node, 5000);
    try {
      assert.equal((await observeNode(s, t))?.service.state, 'stopped', `${h2.name}'s agent stopped`);
    } finally {
      s.close();
    }
    assert.deepEqual(await registered(), ['h0', 'h1', 'h3']);
    assert.equal((await etcd.getAll().prefix(keys.drainPrefix(CLUSTER)).keys()).length, 0);
  });

  test('a wrong host key for h2: the run stops naming h2 and the step; the others untouched', async () => {
    const wrong = join(th.hosts[2]!.dir, 'known_hosts.wrong');
    await writeFile(wrong, `${th.hosts[2]!.address} ${th.hosts[0]!.hostKey}\n`);
    const before = await pids(configText({ names: ['h0', 'h1'], labels: { h1: { zone: 'b' } } }));
    await assert.rejects(
      run(configText({ labels: { h0: { zone: 'a' }, h1: { zone: 'b' } }, h2KnownHosts: wrong })),
      /^Error: h2: connect: .*host key SHA256:\S+ does not match the key in .*known_hosts\.wrong; refusing to connect$/,
    );
    assert.deepEqual(await pids(configText({ names: ['h0', 'h1'], labels: { h1: { zone: 'b' } } })), before);
  });
});
