// The dashboards: the committed JSON is what the typed code (head/dashboards, built with Grafana's
// foundation SDK, whose types are generated from Grafana's schema) generates, and every dashboard holds
// together: unique uids, every panel on a known datasource with queries, every variable a query uses is
// defined. (Every PromQL query is run against a real TSDB with agents writing in test/metrics.test.ts.)
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DASHBOARDS, type DashboardName, dashboardJson } from '../head/dashboards/index.ts';
import { REPO } from './harness/cluster.ts';
import { dashboardQueries, type GrafanaDashboard } from './harness/dashboard-queries.ts';

const names = Object.keys(DASHBOARDS) as DashboardName[];
const load = async (name: string) =>
  JSON.parse(await readFile(join(REPO, 'dashboards', `${name}.json`), 'utf8')) as GrafanaDashboard;

test('the committed dashboards are what the code generates (npm run dashboards)', async () => {
  for (const name of names) {
    assert.equal(
      await readFile(join(REPO, 'dashboards', `${name}.json`), 'utf8'),
      dashboardJson(name),
      `dashboards/${name}.json is stale: run npm run dashboards`,
    );
  }
});

test('every dashboard holds together: uids, datasources, queries, variables', async () => {
  const uids = new Set<string>();
  for (const name of names) {
    const d = await load(name);
    assert.ok(d.uid && !uids.has(d.uid), `${name}: unique uid`);
    uids.add(d.uid);
    assert.ok(typeof d.schemaVersion === 'number' && d.schemaVersion >= 39, `${name}: schemaVersion`);
    assert.ok(d.title.startsWith('nokube / '), `${name}: title`);
    const defined = new Set((d.templating?.list ?? []).map((v) => v.name));
    for (const p of d.panels ?? []) {
      if (p.type === 'row' || p.type === 'text') continue;
      assert.ok(
        ['nokube-metrics', 'nokube-logs'].includes(p.datasource?.uid ?? ''),
        `${name}/${p.title}: datasource`,
      );
      assert.ok((p.targets ?? []).length > 0, `${name}/${p.title}: has queries`);
      for (const t of p.targets ?? []) {
        const q = t.expr ?? t.rawSql;
        assert.ok(q, `${name}/${p.title}: query text`);
        for (const [, v] of q.matchAll(/\$\{?([a-zA-Z_]\w*)/g)) {
          if (v!.startsWith('__')) continue;
          assert.ok(defined.has(v!), `${name}/${p.title}: variable $${v} is defined`);
        }
      }
    }
  }
  assert.deepEqual([...uids].sort(), ['nokube-actors', 'nokube-cluster', 'nokube-home', 'nokube-logs']);
});

test('the PromQL query list covers the metrics dashboards', async () => {
  const all = await Promise.all(names.map(load));
  const q = dashboardQueries(all, { cluster: 'c' });
  assert.ok(q.panels.length >= 15, `panels: ${q.panels.length}`);
  assert.ok(q.variables.some((v) => v.label === 'node'));
  for (const p of q.panels) assert.doesNotMatch(p.expr, /\$/, `${p.where}: every variable substituted`);
});

test('the Logs dashboard sends Grafana millisecond times (its MySQL driver refuses nanosecond text)', async () => {
  const d = await load('logs');
  const sqls = (d.panels ?? []).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ p: p.title, sql: t.rawSql ?? '' })),
  );
  const lines = sqls.find((s) => s.p === 'Logs');
  assert.ok(lines, 'the Logs panel');
  assert.match(lines.sql, /^SELECT CAST\(`timestamp` AS TIMESTAMP\(3\)\) AS time, /);
  // The full timestamp still orders the lines and filters the range.
  assert.match(lines.sql, /ORDER BY `timestamp` DESC/);
  for (const s of sqls) {
    const time = /^SELECT (.+?) AS time\b/.exec(s.sql)?.[1];
    assert.ok(time, `${s.p}: a time column`);
    assert.ok(
      time.startsWith('CAST(') || time.startsWith('date_bin('),
      `${s.p}: time is truncated (milliseconds or whole bins), not the raw nanoseconds: ${time}`,
    );
  }
});
