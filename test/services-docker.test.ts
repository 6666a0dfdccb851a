// Services end to end through the CLI against a real head agent on a real Docker engine and etcd: `get
// svc` columns, a pod started after the Service gets the kubelet's Service variables, the EndpointSlice
// controller on the head puts the pod's address in the slice (`describe svc` Endpoints, `get
// endpointslices`), and `delete svc` takes its slices and frees its ClusterIP.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readPodsCache } from '../agent/pods/cache.ts';
import { keys } from '../agent/store/keys.ts';
import { createTestCluster, eventually, getJson, runCli, type TestCluster } from './harness/cluster.ts';
import { type Docker, ensureBusyboxImage, requireDocker } from './harness/docker.ts';

const NET = 163;
const ADDRESS = `127.${NET}.0.2`;

describe('Services on a head with Docker (CLI)', { timeout: 240_000 }, () => {
  let c: TestCluster;
  let image: string;
  let docker: Docker;
  const cli = (args: string[], input?: string) => runCli(args, c.env, input);
  const containerOf = async (pod: string) =>
    (
      await docker.listContainers({
        all: true,
        filters: { label: [`nokube.cluster=${c.name}`, `nokube.pod=${pod}`] },
      })
    )[0];

  before(async () => {
    docker = await requireDocker();
    image = await ensureBusyboxImage();
    c = await createTestCluster({ nodes: 1, net: NET });
    await c.startAgent('n1');
    await eventually(() => getJson(`${c.headUrl()}/readyz`), 60_000, 'head ready');
  });
  after(async () => {
    await c?.stop();
  });

  test('get svc, Service variables in a container, Endpoints from the slices, delete frees the address', async () => {
    const applied = await cli(
      ['apply', '-f', '-'],
      `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: edge-np}
spec:
  type: NodePort
  ports: [{port: 443, nodePort: 30443}]
`,
    );
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.stdout, 'service/web created\nservice/edge-np created\n');
    const got = await cli(['get', 'svc']);
    const lines = got.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME +TYPE +CLUSTER-IP +EXTERNAL-IP +PORT\(S\) +AGE$/);
    assert.match(lines[1]!, /^edge-np +NodePort +10\.43\.\d+\.\d+ +<none> +443:30443\/TCP +\d+s$/);
    assert.match(lines[2]!, /^web +ClusterIP +10\.43\.\d+\.\d+ +<none> +80\/TCP +\d+s$/);
    const webIp = lines[2]!.split(/ +/)[2]!;

    const pod = await cli(
      ['apply', '-f', '-'],
      `apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${image}
      command: [sh, -c, 'env | sort; exec sleep 3600']
      ports: [{name: http, containerPort: 18080}]
`,
    );
    assert.equal(pod.code, 0, pod.stderr);
    const env = await eventually(
      async () => {
        const r = await cli(['logs', 'web-1']);
        return r.stdout.includes('WEB_SERVICE_HOST=') && r.stdout;
      },
      60_000,
      'the pod to print its environment',
    );
    for (const line of [
      `WEB_SERVICE_HOST=${webIp}`,
      'WEB_SERVICE_PORT=80',
      'WEB_SERVICE_PORT_HTTP=80',
      `WEB_PORT_80_TCP=tcp://${webIp}:80`,
      'EDGE_NP_SERVICE_PORT=443',
    ])
      assert.ok(env.split('\n').includes(line), `${line} in:\n${env}`);

    // The pod is Ready (no probe): the head's EndpointSlice controller lists it, its port looked up by name.
    const described = await eventually(
      async () => {
        const r = await cli(['describe', 'svc', 'web']);
        return r.stdout.includes(`${ADDRESS}:18080`) && r.stdout;
      },
      30_000,
      'describe svc web to show the pod as an endpoint',
    );
    assert.match(described, /^Type: +ClusterIP$/m);
    assert.match(described, new RegExp(`^IP: +${webIp.replaceAll('.', '\\.')}$`, 'm'));
    assert.match(described, /^Port: +http {2}80\/TCP$/m);
    assert.match(described, /^TargetPort: +http\/TCP$/m);
    assert.match(described, new RegExp(`^Endpoints: +${ADDRESS.replaceAll('.', '\\.')}:18080$`, 'm'));
    const slices = await cli(['get', 'endpointslices']);
    assert.match(slices.stdout, /^NAME +ADDRESSTYPE +PORTS +ENDPOINTS +AGE\n/);
    assert.match(
      slices.stdout,
      new RegExp(`^web-\\w{5} +IPv4 +18080 +${ADDRESS.replaceAll('.', '\\.')} +\\d+s$`, 'm'),
    );

    const deleted = await cli(['delete', 'svc', 'web']);
    assert.equal(deleted.stdout, 'services "web" deleted\n');
    await eventually(
      async () => !(await cli(['get', 'endpointslices'])).stdout.includes('web-'),
      10_000,
      "web's slices to go",
    );
    const ips = await c.withEtcd((etcd) => etcd.getAll().prefix(keys.serviceIpsPrefix(c.name)).strings());
    assert.deepEqual(Object.values(ips), ['default/edge-np']);
    await cli(['delete', 'pod', 'web-1']);
  });

  test('cut off from etcd, a restarted agent starts a container with the Services it last knew', async () => {
    const pod = await cli(
      ['apply', '-f', '-'],
      `apiVersion: v1
kind: Pod
metadata: {name: cut}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - {name: main, image: ${image}, command: [sh, -c, 'exec sleep 3600']}
`,
    );
    assert.equal(pod.code, 0, pod.stderr);
    await eventually(async () => (await containerOf('cut'))?.State === 'running', 60_000, 'cut running');
    await eventually(
      async () => {
        const cache = await readPodsCache(join(c.dir, 'ws', 'n1'));
        return (
          cache?.pods.some((p) => p.pod.metadata.name === 'cut') &&
          cache.services?.some((s) => s.metadata.name === 'edge-np')
        );
      },
      10_000,
      'cut and edge-np in n1’s pods cache',
    );
    await c.agents.get('n1')!.kill('SIGKILL');
    await docker.getContainer((await containerOf('cut'))!.Id).remove({ force: true });
    await c.etcd.pause();
    try {
      await c.startAgent('n1');
      const again = await eventually(
        async () => {
          const ct = await containerOf('cut');
          return ct?.State === 'running' && ct;
        },
        30_000,
        'cut started again from the cache',
      );
      const env = (await docker.getContainer(again.Id).inspect()).Config.Env;
      assert.ok(env.includes('EDGE_NP_SERVICE_PORT=443'), env.join('\n'));
      assert.ok(
        env.some((e) => /^EDGE_NP_SERVICE_HOST=10\.43\.\d+\.\d+$/.test(e)),
        env.join('\n'),
      );
    } finally {
      await c.etcd.resume();
    }
  });
});
