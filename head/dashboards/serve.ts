// What the head serves for Grafana: the committed dashboards (embedded in the binary; Home's links and the
// logs table name filled in from the cluster config) and the provisioning files rendered from the config —
// datasources (GreptimeDB's PromQL API as a Prometheus datasource with the db header; its MySQL protocol
// for the logs) and a dashboards provider. The head also writes them under its workspace for the Grafana
// container it runs (head/services).

import type { ClusterConfig, NodeConfig } from '../../agent/config/schema.ts';
import { headApiUrl, hostForUrl } from '../../agent/net/urls.ts';
import actors from '../../dashboards/actors.json' with { type: 'json' };
import cluster from '../../dashboards/cluster.json' with { type: 'json' };
import home from '../../dashboards/home.json' with { type: 'json' };
import logs from '../../dashboards/logs.json' with { type: 'json' };
import { LOGS, LOGS_TABLE, METRICS, PLACEHOLDERS } from './ids.ts';

export const DASHBOARD_FILES: Record<string, unknown> = { home, cluster, actors, logs };

/** Where Grafana (in its container) finds the dashboards the head wrote for it. */
export const GRAFANA_DASHBOARDS_DIR = '/var/lib/grafana/dashboards/nokube';

/** A dashboard as served: the config's addresses and logs table in place of the placeholders. */
export function renderDashboard(name: string, config: ClusterConfig, head: NodeConfig): string | undefined {
  const d = DASHBOARD_FILES[name];
  if (!d) return undefined;
  const m = config.monitoring;
  const g = m ? `http://${hostForUrl(m.greptimedb.address)}:${m.greptimedb.httpPort}` : '';
  const files = config.head.fileServer
    ? `http://${hostForUrl(head.address)}:${config.head.fileServer.port}`
    : '';
  let text = JSON.stringify(d, null, 2);
  text = text
    .replaceAll(PLACEHOLDERS.greptimedb, g)
    .replaceAll(PLACEHOLDERS.fileServer, files)
    // The console link follows the head's scheme (HTTPS with the config's tls).
    .replaceAll(PLACEHOLDERS.console, headApiUrl(config, head) ?? '');
  if (m && m.greptimedb.logsTable !== LOGS_TABLE)
    text = text.replaceAll(`FROM ${LOGS_TABLE} `, `FROM ${m.greptimedb.logsTable} `);
  return `${text}\n`;
}

/**
 * Grafana's datasource provisioning for this cluster (undefined without `monitoring`). With
 * `monitoring.greptimedb.auth` both datasources log in as its user, and the password is Grafana's own
 * `$__file{<passwordFile>}` expansion: read by Grafana from the file (at the same path in the container the
 * head runs), so it is in neither this text, the head's workspace nor the head's HTTP answer.
 */
export function datasourcesYaml(config: ClusterConfig): string | undefined {
  const m = config.monitoring;
  if (!m) return undefined;
  const g = m.greptimedb;
  const host = hostForUrl(g.address);
  // JSON strings are YAML double-quoted scalars: a path or user name needs no escaping of its own.
  const q = (v: string) => JSON.stringify(v);
  const password = g.auth ? q(`$__file{${g.auth.passwordFile}}`) : '';
  const metricsAuth = g.auth ? `    basicAuth: true\n    basicAuthUser: ${q(g.auth.user)}\n` : '';
  const metricsSecret = g.auth ? `      basicAuthPassword: ${password}\n` : '';
  const logsAuth = g.auth
    ? `    user: ${q(g.auth.user)}\n    secureJsonData:\n      password: ${password}\n`
    : '';
  return `# Written by nokube for cluster ${config.cluster} (from monitoring.greptimedb in the cluster config).
apiVersion: 1
datasources:
  - name: nokube metrics (GreptimeDB)
    uid: ${METRICS.uid}
    type: ${METRICS.type}
    access: proxy
    url: http://${host}:${g.httpPort}/v1/prometheus
    isDefault: true
${metricsAuth}    jsonData:
      httpMethod: POST
      httpHeaderName1: x-greptime-db-name
      timeInterval: ${m.metricsIntervalSeconds}s
    secureJsonData:
      httpHeaderValue1: ${g.db}
${metricsSecret}  - name: nokube logs (GreptimeDB)
    uid: ${LOGS.uid}
    type: ${LOGS.type}
    access: proxy
    url: ${host}:${g.mysqlPort}
    database: ${g.logsDb}
${logsAuth}    jsonData:
      timeInterval: 1s
`;
}

/** Grafana's dashboard provider: the files the head wrote, in a "nokube" folder. */
export function dashboardsProviderYaml(): string {
  return `# Written by nokube: the dashboards the head serves at /dashboards/, as files for Grafana.
apiVersion: 1
providers:
  - name: nokube
    folder: nokube
    type: file
    disableDeletion: true
    updateIntervalSeconds: 30
    allowUiUpdates: false
    options:
      path: ${GRAFANA_DASHBOARDS_DIR}
`;
}
