// Pieces every dashboard shares: the two datasources (uids fixed by our provisioning), the cluster
// variable, and small builders for what the SDK has no builder for (SQL queries).
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  DashboardBuilder,
  DashboardLinkBuilder,
  DashboardLinkType,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { LOGS, METRICS } from './ids.ts';

export { LOGS, METRICS, UIDS } from './ids.ts';

export const TAGS = ['nokube'];

/** A dashboard that follows live data: the nokube tag, a 30 s refresh, the last `from` (e.g. now-1h). */
export const liveDashboard = (title: string, uid: string, from: string) =>
  new DashboardBuilder(title).uid(uid).tags(TAGS).refresh('30s').time({ from, to: 'now' });

/** The top-bar dropdown to the other nokube dashboards (variables and time range carried along). */
export const dashboardsLink = () =>
  new DashboardLinkBuilder('nokube')
    .type(DashboardLinkType.Dashboards)
    .tags(TAGS)
    .asDropdown(true)
    .includeVars(true)
    .keepTime(true);

/** `cluster`: the clusters writing to this GreptimeDB (one per cluster config). */
export const clusterVariable = () =>
  new QueryVariableBuilder('cluster')
    .label('Cluster')
    .datasource(METRICS)
    .query('label_values(nokube_node_cpu_usage_ratio, cluster)')
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc);

/** A PromQL query against the metrics datasource. */
export const promql = (expr: string, legend?: string, refId = 'A') => {
  const q = new DataqueryBuilder().expr(expr).refId(refId).datasource(METRICS);
  return legend ? q.legendFormat(legend) : q;
};

/** An instant PromQL query returning a table (one row per series). */
export const promTable = (expr: string, refId = 'A') =>
  new DataqueryBuilder().expr(expr).refId(refId).datasource(METRICS).instant().format(PromQueryFormat.Table);

/** A raw SQL query against the logs datasource (the SDK has no MySQL query builder). */
export const sql = (
  rawSql: string,
  refId = 'A',
  format: 'table' | 'time_series' = 'table',
): cog.Builder<cog.Dataquery> => ({
  build: () =>
    ({
      refId,
      datasource: LOGS,
      rawSql,
      rawQuery: true,
      editorMode: 'code',
      format,
    }) as unknown as cog.Dataquery,
});
