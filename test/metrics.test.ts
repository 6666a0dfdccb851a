// The metrics path end to end: agents sample their node and pod containers and write Prometheus remote
// write to a real PromQL TSDB (victoria-metrics behind GreptimeDB's paths, test/harness/tsdb.ts); PromQL
// answers with the documented names and labels; the same figures are at the agent's /metrics; the
// metrics database, missing at first as in a fresh GreptimeDB, is created by the agents; an outage of the
// store is survived (counted, queued on disk) and the backlog arrives after it.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { storeConfig } from '../agent/store/config-store.ts';
import {
  agentsReady,
  createTestCluster,
  eventually,
  REPO,
  runCli,
  type TestCluster,
} from './harness/cluster.ts';
import { dashboardQueries, type GrafanaDashboard } from './harness/dashboard-queries.ts';
import { ensureBusyboxImage, requireDocker } from './harness/docker.ts';
import { startTsdb, type Tsdb } from './harness/tsdb.ts';

const NET = 60;
/** Not GreptimeDB's `public`: the agents must create it. */
const DB = 'nokube_metrics';

describe('metrics to a PromQL TSDB', { timeout: 240_000 }, () => {
  let c: TestCluster;
  let tsdb: Tsdb;
  let image: string;

  const monitoring = (port: number) =>
    `monitoring:\n  metricsIntervalSeconds: 1\n  greptimedb:\n    address: 127.0.0.1\n    httpPort: ${port}\n    db: ${DB}\n  grafana:\n    address: 127.0.0.1\n    port: 3000\n`;
  const until = <T>(what: string, check: () => Promise<T | undefined | false>, ms = 30_000) =>
    eventually(check, ms, what);
  const series = async (q: string) => {
    const r = await tsdb.query(q);
    return r.length > 0 ? r : undefined;
  };

  before(async () => {
    await requireDocker();
    image = await ensureBusyboxImage();
    tsdb = await startTsdb({ db: DB });
    c = await createTestCluster({ nodes: 2, net: NET });
    const nodes = c.nodes.map((n, i) =>
      i === 1 ? { ...n, labels: { zone: 'b', 'nokube.io/tier': 'edge' } } : n,
    );
    await c.withEtcd((etcd) =>
      storeConfig(etcd, c.configYaml(nodes, monitoring(tsdb.port)), c.configFile, 'test', 'latest').then(
        () => undefined,
      ),
    );
    await Promise.all([c.startAgent('n1'), c.startAgent('n2')]);
    await agentsReady(c);
    // A prewarm task of an image both nodes hold: the prewarm panels' series (the leader's task gauges,
    // the agents' pull counts, result "present").
    const warm = await runCli(
      [
        'prewarm',
        'create',
        '--name',
        'warm',
        '--image',
        image,
        '--batch-size',
        '2',
        '--wait',
        '--timeout',
        '60s',
      ],
      c.env,
    );
    assert.equal(warm.code, 0, warm.stderr);
  });
  after(async () => {
    await runCli(['delete', 'pod', 'busy', '--ignore-not-found'], c?.env ?? {}).catch(() => undefined);
    await c?.stop();
    await tsdb?.stop();
  });

  test('node series arrive with cluster, node and label_* labels', async () => {
    const cpu = await until('cpu of both nodes', async () => {
      const r = await series(`nokube_node_cpu_usage_ratio{cluster="${c.name}"}`);
      return r && r.length === 2 ? r : undefined;
    });
    const n2 = cpu.find((s) => s.metric.node === 'n2')!;
    assert.equal(n2.metric.label_zone, 'b');
    assert.equal(n2.metric.label_nokube_io_tier, 'edge');
    const ratio = Number(n2.value[1]);
    assert.ok(ratio >= 0 && ratio <= 1, `cpu ratio ${ratio}`);
    const mem = await until('memory', () => series(`nokube_node_memory_bytes{node="n1",kind="total"}`));
    assert.ok(Number(mem[0]!.value[1]) > 100 * 1024 * 1024);
    const used = await until('used < total', () =>
      series(
        `nokube_node_memory_bytes{node="n1",kind="used"} < on(node) nokube_node_memory_bytes{node="n1",kind="total"}`,
      ),
    );
    assert.equal(used.length, 1);
    await until('network all', () =>
      series(`nokube_node_network_receive_bytes_per_second{node="n1",interface="all"}`),
    );
    const fs = await until('filesystem', () =>
      series(`nokube_node_filesystem_bytes{node="n1",kind="size"} > 0`),
    );
    assert.ok(fs.some((s) => s.metric.mount === '/' || s.metric.mount?.startsWith('/')));
    const cores = await until('per core', () => series(`nokube_node_cpu_core_usage_ratio{node="n1"}`));
    assert.ok(cores.length >= 1);
    await until('load', () => series(`nokube_node_load{node="n1",period="1m"}`));
    await until('agent health', () => series(`nokube_mesh_members{node="n1",state="alive"} == 2`));
    await until('export counters', () =>
      series(`nokube_export_sent_total{node="n1",pipeline="metrics"} > 0`),
    );
    await until('etcd latency from the lease keepalive', () =>
      series(`nokube_etcd_request_seconds{node="n2"} > 0`),
    );
    assert.deepEqual(tsdb.rejected, []);
    // Each agent asked for the database at start (and again if a write found it missing), and nothing
    // was dropped meanwhile.
    // (The logs database too: this front takes no logs, so the log export keeps its batches and retries.)
    assert.ok(
      tsdb.sql.filter((q) => q === `CREATE DATABASE IF NOT EXISTS \`${DB}\``).length >= 2,
      `SQL: ${tsdb.sql.join('; ')}`,
    );
    assert.deepEqual(
      new Set(tsdb.sql),
      new Set([`CREATE DATABASE IF NOT EXISTS \`${DB}\``, 'CREATE DATABASE IF NOT EXISTS `logs`']),
    );
    const text = await (await fetch(`${c.agentUrl('n1')}/metrics`)).text();
    assert.match(text, /^nokube_export_dropped_total\{pipeline="metrics",reason="malformed"[^}]*\} 0$/m);
  });

  test('a running pod has container CPU/memory series and nokube_actor rows for pod and container', async () => {
    const r = await runCli(
      ['apply', '-f', '-'],
      c.env,
      `apiVersion: v1\nkind: Pod\nmetadata: {name: busy}\nspec:\n  nodeName: n2\n  terminationGracePeriodSeconds: 1\n  containers:\n    - name: spin\n      image: ${image}\n      command: [sh, -c, 'while true; do :; done']\n      resources: {limits: {cpu: 500m, memory: 64Mi}}\n`,
    );
    assert.equal(r.code, 0, r.stderr);
    const cpu = await until(
      'container cpu',
      () =>
        series(`nokube_container_cpu_cores{node="n2",namespace="default",pod="busy",container="spin"} > 0.2`),
      60_000,
    );
    assert.ok(Number(cpu[0]!.value[1]) <= 0.75, `limited to half a core, saw ${cpu[0]!.value[1]}`);
    const limit = await until('memory limit', () =>
      series(`nokube_container_memory_limit_bytes{pod="busy"}`),
    );
    assert.equal(Number(limit[0]!.value[1]), 64 * 1024 * 1024);
    await until('memory', () => series(`nokube_container_memory_bytes{pod="busy"} > 0`));
    const pod = await until('actor pod', () =>
      series(`nokube_actor{kind="pod",name="busy",phase="Running"}`),
    );
    assert.equal(pod[0]!.metric.owner_path, 'pod-busy');
    assert.equal(pod[0]!.metric.node, 'n2');
    const ct = await until('actor container', () =>
      series(`nokube_actor{kind="container",owner_name="busy",name="spin",phase="running"}`),
    );
    assert.equal(ct[0]!.metric.owner_path, 'pod-busy/container-spin');
    assert.equal(ct[0]!.value[1], '0');
  });

  test('the kubecontroller leader adds rows for namespaces, controllers, configmaps and secrets', async () => {
    const r = await runCli(
      ['apply', '-f', '-'],
      c.env,
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: team}\ndata: {a: b}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: pw, namespace: team}\nstringData: {p: q}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: team}\nspec:\n  replicas: 0\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: c, image: ${image}}]\n`,
    );
    assert.equal(r.code, 0, r.stderr);
    const rows = await until('cluster-level rows', async () => {
      const got = await series(`nokube_actor{cluster="${c.name}", namespace="team"}`);
      return got && got.length === 4 ? got : undefined;
    });
    assert.deepEqual(
      rows.map((x) => `${x.metric.kind}/${x.metric.name}/${x.metric.phase}/${x.metric.owner_path}`).sort(),
      [
        'configmap/cfg/-/configmap-cfg',
        'deployment/web/Active/deployment-web',
        'namespace/team/Active/namespace-team',
        'secret/pw/-/secret-pw',
      ],
    );
    assert.equal((await runCli(['delete', 'namespace', 'team'], c.env)).code, 0);
    // Gone from the leader's /metrics at once (a TSDB keeps answering with the last sample for its
    // lookback window: remote write has no staleness markers).
    await until('rows gone with the namespace', async () => {
      const text = await (await fetch(`${c.agentUrl('n1')}/metrics`)).text();
      return text.includes('namespace="team"') ? undefined : true;
    });
  });

  test('every PromQL query of every dashboard returns data for this cluster (variables substituted)', async () => {
    const dir = join(REPO, 'dashboards');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    const dashboards = await Promise.all(
      files.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as GrafanaDashboard),
    );
    const { panels, variables } = dashboardQueries(dashboards, { cluster: c.name });
    assert.ok(panels.length >= 15);
    for (const v of variables) {
      const values = await until(`${v.where} values`, async () => {
        const r = await tsdb.labelValues(v.label, v.match);
        return r.length > 0 ? r : undefined;
      });
      if (v.label === 'node') assert.deepEqual(values.sort(), ['n1', 'n2'], v.where);
    }
    for (const p of panels) {
      await until(`${p.where}: ${p.expr}`, () => series(p.expr), 20_000);
    }
  });

  test("the agent's /metrics shows the same names", async () => {
    const text = await (await fetch(`${c.agentUrl('n2')}/metrics`)).text();
    for (const name of [
      'nokube_node_cpu_usage_ratio',
      'nokube_node_memory_bytes',
      'nokube_node_network_transmit_bytes_per_second',
      'nokube_node_filesystem_bytes',
      'nokube_container_cpu_cores',
      'nokube_actor',
      'nokube_export_queue_bytes',
      'nokube_event_loop_lag_seconds',
      'nokube_image_pulls_total',
    ])
      assert.match(text, new RegExp(`^${name}\\{`, 'm'), name);
    assert.match(
      text,
      new RegExp(`nokube_node_cpu_usage_ratio\\{cluster="${c.name}",node="n2",label_zone="b"`),
    );
    assert.equal(await (await fetch(`${c.agentUrl('n2')}/healthz`)).text(), 'ok\n');
  });

  test('while the store is down the agents keep working and queue; the backlog arrives after', async () => {
    tsdb.setDown(true);
    const downAt = Date.now();
    // Failing writes are queued (on disk) and counted as queued bytes: down until four samples queued
    // (on a loaded machine a sample takes longer than its 1 s interval: a fixed 4 s outage held two). The
    // first may have been taken just before the outage: three are inside it.
    const queued = async () => {
      const text = await (await fetch(`${c.agentUrl('n1')}/metrics`)).text();
      return Number(/^nokube_export_queue_bytes\{pipeline="metrics"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const sizes = new Set<number>();
    await until(
      'four samples queued while down',
      async () => {
        const bytes = await queued();
        if (bytes > 0) sizes.add(bytes);
        return sizes.size >= 4;
      },
      60_000,
    );
    const upAt = Date.now();
    tsdb.setDown(false);
    // Samples taken during the outage arrive (with their own timestamps) once the store is back.
    const outageSeconds = Math.floor((upAt - downAt) / 1000);
    await until(
      'three samples from the outage',
      async () => {
        const r = await series(
          `count_over_time(nokube_node_cpu_usage_ratio{node="n1"}[${outageSeconds}s] offset ${Math.floor((Date.now() - upAt) / 1000)}s)`,
        );
        return r && Number(r[0]!.value[1]) >= 3 ? r : undefined;
      },
      60_000,
    );
    const text = await (await fetch(`${c.agentUrl('n1')}/metrics`)).text();
    assert.match(text, /^nokube_export_dropped_total\{pipeline="metrics",reason="overflow"[^}]*\} 0$/m);
  });
});
