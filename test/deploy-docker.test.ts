// Deploy over SSH with the agent as a Docker container: 2 netns hosts, each with its own Docker engine
// inside its namespace (test/harness/host-docker.ts), etcd on their gateway. From nothing -> the image
// built on each host from the uploaded binary (offline), the agent container running with the host network
// and pid namespace, the engine socket, workspace and install dir mounted, both nodes registered; rerun ->
// no change, the same containers; a label on h1 -> only h1's container replaced; a pod bound to h1 runs on
// h1's engine (the agent drives it through the mounted socket) with its own IP from the pod network (the
// container given NET_ADMIN, SYS_ADMIN and /proc/sys, the host's ip/nft/nsenter/conntrack in its image), reached from h0 across the
// VXLAN overlay; h1 back to a process service -> its container removed, a process agent in its place; a
// docker node whose engine socket does not exist -> the run stops at the plan naming node and field,
// nothing changed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import type { Etcd3 } from 'etcd3';
import { validateConfigText } from '../agent/config/validate.ts';
import { applyManifests, deleteObject } from '../agent/objects/apply.ts';
import { getObject } from '../agent/objects/store.ts';
import { validateManifestText } from '../agent/objects/validate.ts';
import type { ServiceState } from '../agent/op/service.ts';
import { SECRET_VOLUMES_ROOT } from '../agent/pods/secret-volumes.ts';
import { wellKnownLabels } from '../agent/start/node-record.ts';
import { createEtcd } from '../agent/store/etcd.ts';
import { listNodes } from '../agent/store/node-registry.ts';
import { deployOverSsh } from '../head/cli/deploy/deploy.ts';
import { type LocalBinary, observeNode } from '../head/cli/deploy/node-deploy.ts';
import { nodeTarget } from '../head/cli/deploy/node-target.ts';
import { openSession } from '../head/cli/deploy/ssh/session.ts';
import { eventually } from './harness/cluster.ts';
import { copiedBinary, deployConfigText, stopDeployedAgents, testDeployOptions } from './harness/deployed.ts';
import { ensureBusyboxImage, requireDocker } from './harness/docker.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { startTestHosts, type TestHosts } from './harness/hosts.ts';
import { httpGets } from './harness/netns-client.ts';

const exec = promisify(execFile);
const CLUSTER = 'deploy-docker-test';
const POD_CIDR = '10.46.0.0/16';

describe('new-or-update over SSH, the agent as a Docker container (2 netns hosts with engines)', {
  timeout: 300_000,
}, () => {
  let th: TestHosts;
  let etcdServer: TestEtcd;
  let etcd: Etcd3;
  let binary: LocalBinary;
  const out: string[] = [];
  const started = new Set<string>();

  /** h0 (head) and h1 in docker mode unless `service` says otherwise; `socket` overrides h1's socket. */
  const configText = (
    o: {
      labels?: Record<string, Record<string, string>>;
      service?: Record<string, 'process' | 'docker' | 'systemd'>;
      socket?: string;
      backend?: 'host-gw' | 'vxlan';
    } = {},
  ) => {
    const text = deployConfigText(th, {
      cluster: CLUSTER,
      etcd: { endpoints: [etcdServer.url] },
      headPort: 7480,
      meshPort: 7946,
      network: { podCidr: POD_CIDR, ...(o.backend ? { backend: o.backend } : {}) },
      nodes: th.hosts.map((host) => ({
        host,
        roles: host.name === 'h0' ? ['head', 'worker'] : ['worker'],
        labels: o.labels?.[host.name] ?? {},
        dockerSocket: host.name === 'h1' && o.socket ? o.socket : host.dockerSocket!,
        service: o.service?.[host.name] ?? 'docker',
      })),
    });
    started.add(text);
    return text;
  };

  const run = (text: string) =>
    deployOverSsh(testDeployOptions({ text, binary, etcd: async () => etcd, out }));

  /** The agent service on each host as its installed binary reports it. */
  const services = async (text: string) => {
    const config = validateConfigText(text, 'cluster.yaml').config;
    const res: Record<string, ServiceState | null> = {};
    for (const n of config.nodes) {
      const t = nodeTarget(config, n);
      const s = await openSession(t.node, 5000);
      try {
        res[n.name] = (await observeNode(s, t))?.service ?? null;
      } finally {
        s.close();
      }
    }
    return res;
  };
  const engine = (i: number) => new Docker({ socketPath: th.hosts[i]!.dockerSocket! });
  const agentContainer = (i: number) => engine(i).getContainer('nokube-agent').inspect();
  const registered = async () => (await listNodes(etcd, CLUSTER)).map((n) => n.name);

  before(async () => {
    th = await startTestHosts(2, { docker: true });
    etcdServer = await startTestEtcd(th.gateway);
    etcd = await createEtcd({ endpoints: [etcdServer.url], dialTimeoutMs: 2000 });
    binary = await copiedBinary();
  });
  after(async () => {
    if (th) for (const text of started) await stopDeployedAgents(text);
    etcd?.close();
    await etcdServer?.stop();
    await th?.stop();
    if (out.length) process.stdout.write(`# deploy output:\n${out.join('')}`);
  });

  test('from nothing: the image built on each host, the agent container running, nodes registered', async () => {
    const { plans, rows } = await run(configText());
    assert.deepEqual(
      plans.map((p) => [p.node, p.change]),
      [
        ['h0', 'install'],
        ['h1', 'install'],
      ],
    );
    assert.deepEqual(
      rows.map((r) => r.state),
      ['running', 'running'],
    );
    assert.deepEqual(await registered(), ['h0', 'h1']);
    for (const [i, h] of th.hosts.entries()) {
      const c = await agentContainer(i);
      assert.equal(c.State.Running, true, h.name);
      const dataRoot = (await engine(i).info()).DockerRootDir as string;
      // The pod network's tools are the host's: their digest is part of the tag.
      assert.match(c.Config.Image, new RegExp(`^nokube-agent:${binary.sha256.slice(0, 12)}-[0-9a-f]{8}$`));
      assert.equal(c.HostConfig.NetworkMode, 'host');
      assert.equal(c.HostConfig.PidMode, 'host');
      // The rights a pod network needs, not --privileged.
      assert.equal(c.HostConfig.Privileged, false);
      assert.deepEqual(c.HostConfig.CapAdd, ['NET_ADMIN', 'SYS_ADMIN']);
      assert.ok(c.HostConfig.SecurityOpt?.includes('apparmor=unconfined'), String(c.HostConfig.SecurityOpt));
      assert.deepEqual(c.HostConfig.ReadonlyPaths, [], '/proc/sys writable');
      // Each tool runs in the container (its libraries are there).
      for (const argv of [
        ['ip', '-V'],
        ['bridge', '-V'],
        ['nft', '--version'],
        ['nsenter', '--version'],
        ['conntrack', '--version'],
      ]) {
        const { stdout } = await exec('docker', [
          '-H',
          `unix://${h.dockerSocket}`,
          'exec',
          'nokube-agent',
          ...argv,
        ]);
        assert.ok(stdout.trim().length > 0, `${h.name}: ${argv.join(' ')}`);
      }
      assert.equal(c.HostConfig.RestartPolicy?.Name, 'unless-stopped');
      assert.deepEqual(
        [...(c.HostConfig.Binds ?? [])].sort(),
        // Secret volumes are written on the host's tmpfs for the engine to bind (agent/pods/secret-volumes.ts).
        // The engine's data root, read-only: image garbage collection measures its disk.
        [h.dockerSocket!, h.workspaceDir, h.installDir, SECRET_VOLUMES_ROOT]
          .map((p) => `${p}:${p}`)
          .concat(`${dataRoot}:${dataRoot}:ro`)
          .sort(),
      );
      assert.deepEqual(c.Config.Cmd, [
        'agent',
        '--config',
        `etcd://${new URL(etcdServer.url).host}/${CLUSTER}`,
        '--node',
        h.name,
      ]);
      assert.equal(c.Config.Labels?.['nokube.service.binary-sha256'], binary.sha256);
      // Host network inside the host's namespace: the agent answers on the host's own address.
      await eventually(
        async () =>
          /^nokube_mesh_members\{[^}]*state="alive"[^}]*\} 2$/m.test(
            await (await fetch(`http://${h.address}:7947/metrics`)).text(),
          ),
        30_000,
        `${h.name}'s mesh view has both nodes alive`,
      );
      // The agent sees the host's processes (pid namespace) and its engine (the mounted socket).
      const rec = (await listNodes(etcd, CLUSTER)).find((n) => n.name === h.name);
      assert.equal(rec?.capacity.containerRuntime?.name, 'docker', `${h.name}'s agent reached its engine`);
    }
  });

  test('rerun: no change, the same containers', async () => {
    const before = await services(configText());
    const ids = [(await agentContainer(0)).Id, (await agentContainer(1)).Id];
    const { plans } = await run(configText());
    assert.deepEqual(
      plans.map((p) => p.change),
      ['nothing to do', 'nothing to do'],
    );
    assert.deepEqual(await services(configText()), before);
    assert.deepEqual([(await agentContainer(0)).Id, (await agentContainer(1)).Id], ids);
    assert.equal(before.h0?.mode, 'docker');
    assert.equal(before.h0?.container, ids[0]);
  });

  test('a label on h1: only h1 container replaced', async () => {
    const ids = [(await agentContainer(0)).Id, (await agentContainer(1)).Id];
    const text = configText({ labels: { h1: { zone: 'b' } } });
    const { plans } = await run(text);
    assert.deepEqual(
      plans.map((p) => p.change),
      ['nothing to do', 'config change'],
    );
    assert.equal((await agentContainer(0)).Id, ids[0]);
    const h1 = await agentContainer(1);
    assert.notEqual(h1.Id, ids[1]);
    assert.equal(h1.State.Running, true);
    await assert.rejects(engine(1).getContainer(ids[1]!).inspect(), /no such container/i);
    const rec = (await listNodes(etcd, CLUSTER)).find((n) => n.name === 'h1');
    // The config's labels, beside the well-known ones every record carries.
    assert.deepEqual(rec?.labels, { ...wellKnownLabels('h1'), zone: 'b' });
  });

  test("the agent in h1's container runs a pod on h1's engine with its own IP, reached from h0", async () => {
    // The test image comes from the machine's engine (no registry reaches the hosts' engines).
    const ref = await ensureBusyboxImage();
    await engine(1).loadImage(await (await requireDocker()).getImage(ref).get());
    const manifest = `apiVersion: v1
kind: Pod
metadata: {name: on-h1}
spec:
  nodeName: h1
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${ref}
      imagePullPolicy: Never
      command: [sh, -c, 'mkdir -p /www && echo on-h1 > /www/index.html && exec httpd -f -p 8080 -h /www']
`;
    await applyManifests(etcd, CLUSTER, validateManifestText(manifest, 'pod.yaml'), 'deploy-docker-test');
    const ref1 = { kind: 'Pod', namespace: 'default', name: 'on-h1' } as const;
    const podIp = await eventually(
      async () => {
        const status = (await getObject(etcd, CLUSTER, ref1))?.object.status;
        return status?.phase === 'Running' && status.podIP;
      },
      60_000,
      'pod on-h1 Running',
    );
    assert.ok(podIp.startsWith('10.46.'), `${podIp} is from the pod network, not the host's`);
    const cs = await engine(1).listContainers({ filters: { label: ['nokube.node=h1', 'nokube.pod=on-h1'] } });
    assert.ok(cs.length >= 1, 'the pod containers are on h1 engine');
    // From h0, by pod IP, across the overlay: routes and the VXLAN device made by h0's and h1's agents.
    await eventually(
      async () => (await httpGets(th.hosts[0]!.netns, `http://${podIp}:8080/`, 1))[0] === 'on-h1',
      30_000,
      'h0 reaches the pod on h1',
    );
    await deleteObject(etcd, CLUSTER, ref1);
    await eventually(
      async () =>
        (await engine(1).listContainers({ all: true, filters: { label: ['nokube.pod=on-h1'] } })).length ===
        0,
      60_000,
      'pod containers removed',
    );
  });

  test('h1 back to a process service: its container removed, a process agent in its place', async () => {
    const text = configText({ labels: { h1: { zone: 'b' } }, service: { h1: 'process' } });
    const { plans } = await run(text);
    const h1 = plans.find((p) => p.node === 'h1')!;
    assert.deepEqual([h1.change, h1.steps], ['config change', ['upload-config', 'restart']]);
    assert.ok(h1.reasons.includes('service docker -> process'), h1.reasons.join('; '));
    await assert.rejects(agentContainer(1), /no such container/i);
    const now = await services(text);
    assert.equal(now.h1?.mode, 'process');
    assert.equal(now.h1?.state, 'running');
    assert.equal(now.h0?.mode, 'docker');
    assert.deepEqual(await registered(), ['h0', 'h1']);
  });

  test('docker mode where no engine answers: the run stops at the plan naming node and field', async () => {
    const before = await services(configText({ labels: { h1: { zone: 'b' } }, service: { h1: 'process' } }));
    await assert.rejects(
      run(configText({ labels: { h1: { zone: 'c' } }, socket: '/nonexistent/docker.sock' })),
      /^Error: h1: plan: nodes\[\]\.ssh\.service is docker, but no Docker engine answers at \/nonexistent\/docker\.sock/,
    );
    assert.deepEqual(
      await services(configText({ labels: { h1: { zone: 'b' } }, service: { h1: 'process' } })),
      before,
    );
  });

  test('the network section changed: every agent restarted, the stored config first', async () => {
    const o = { labels: { h1: { zone: 'b' } }, service: { h1: 'process' as const } };
    const before = await services(configText(o));
    const { plans } = await run(configText({ ...o, backend: 'host-gw' }));
    for (const p of plans) {
      assert.deepEqual([p.change, p.steps], ['config change', ['restart']], p.node);
      assert.ok(p.reasons.includes('the network section changed (an agent reads it when it starts)'));
    }
    const after = await services(configText({ ...o, backend: 'host-gw' }));
    assert.notEqual(after.h0?.pid, before.h0?.pid, "h0's container restarted");
    assert.notEqual(after.h1?.pid, before.h1?.pid, 'h1 process restarted');
    // Restarted on the new section: no VXLAN device any more, a route to the peer's pod subnet instead.
    for (const h of th.hosts)
      await eventually(
        async () => {
          const { stdout } = await exec('ip', [
            'netns',
            'exec',
            h.netns,
            'ip',
            '-o',
            'link',
            'show',
            'type',
            'vxlan',
          ]);
          return stdout.trim() === '';
        },
        30_000,
        `${h.name}'s VXLAN device gone`,
      );
  });
});
