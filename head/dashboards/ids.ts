// Names the dashboards and the head share, kept apart from the dashboard code (which needs Grafana's
// SDK, a build-time tool) so the head's runtime imports nothing of it.

/** GreptimeDB's PromQL API through Grafana's Prometheus datasource (provisioning: datasources.yaml). */
export const METRICS = { type: 'prometheus', uid: 'nokube-metrics' } as const;
/** GreptimeDB's MySQL protocol through Grafana's MySQL datasource: the OTLP logs table. */
export const LOGS = { type: 'mysql', uid: 'nokube-logs' } as const;

/** Dashboards link to each other by these uids. */
export const UIDS = {
  home: 'nokube-home',
  cluster: 'nokube-cluster',
  actors: 'nokube-actors',
  logs: 'nokube-logs',
} as const;

/** Placeholders in Home that the head replaces with the configured addresses (serve.ts). */
export const PLACEHOLDERS = {
  greptimedb: '@@NOKUBE_GREPTIMEDB_URL@@',
  fileServer: '@@NOKUBE_FILE_SERVER_URL@@',
  console: '@@NOKUBE_CONSOLE_URL@@',
} as const;

/** The logs table the dashboards are written for; the head puts the configured one in its place. */
export const LOGS_TABLE = 'nokube_logs';
