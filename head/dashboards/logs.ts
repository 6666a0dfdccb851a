// Logs: what did it log. GreptimeDB's OTLP logs table (`monitoring.greptimedb.logsTable`, columns as
// GreptimeDB makes them: timestamp, severity_text, body, ... plus the extracted keys cluster_name,
// node_name, source, source_id) through Grafana's MySQL datasource; node, source, pod, severity and a text
// search in the top bar.
//
// The time column is cast to TIMESTAMP(3): the table keeps nanoseconds, and GreptimeDB >= 1.1.4 writes a
// timestamp over its MySQL protocol as text with as many fraction digits as the value needs
// (src/servers/src/mysql/writer.rs, chrono `%.f`), nine for nanoseconds, which Grafana's MySQL driver
// refuses. Milliseconds print three. (The per-minute bins of date_bin have no fraction.) The lines are
// still ordered by the full nanosecond timestamp.
import {
  CustomVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  TextBoxVariableBuilder,
  VariableRefresh,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as LogsBuilder } from '@grafana/grafana-foundation-sdk/logs';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { LOGS, liveDashboard, sql, UIDS } from './common.ts';
import { LOGS_TABLE } from './ids.ts';

/** A Grafana variable, quoted and escaped as an SQL string (list) by Grafana: `${name:sqlstring}`. */
const v = (name: string) => ['$', '{', name, ':sqlstring}'].join('');

/** The record's time truncated to milliseconds (GreptimeDB SQL: CAST to TIMESTAMP(3), TimestampMillisecond). */
const TIME_MS = 'CAST(`timestamp` AS TIMESTAMP(3))';

const WHERE = [
  '$__timeFilter(`timestamp`)',
  `node_name IN (${v('node')})`,
  `source IN (${v('source')})`,
  `source_id LIKE CONCAT('%', ${v('pod')}, '%')`,
  `severity_text IN (${v('severity')})`,
  `body LIKE CONCAT('%', ${v('search')}, '%')`,
].join(' AND ');

export function logsDashboard() {
  return liveDashboard('nokube / Logs', UIDS.logs, 'now-1h')
    .withVariable(
      new QueryVariableBuilder('node')
        .label('Node')
        .datasource(LOGS)
        .query(`SELECT DISTINCT node_name FROM ${LOGS_TABLE} ORDER BY node_name`)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .multi(true)
        .includeAll(true),
    )
    .withVariable(
      new CustomVariableBuilder('source')
        .label('Source')
        .values('agent,container')
        .multi(true)
        .includeAll(true),
    )
    .withVariable(
      new TextBoxVariableBuilder('pod').label('Pod (part of namespace/pod/container)').defaultValue(''),
    )
    .withVariable(
      new CustomVariableBuilder('severity')
        .label('Severity')
        .values('TRACE,DEBUG,INFO,WARN,ERROR,FATAL')
        .multi(true)
        .includeAll(true),
    )
    .withVariable(new TextBoxVariableBuilder('search').label('Text').defaultValue(''))
    .withRow(new RowBuilder('Volume'))
    .withPanel(
      new TimeseriesBuilder()
        .title('Lines per minute by severity')
        .datasource(LOGS)
        .height(7)
        .span(24)
        .withTarget(
          sql(
            `SELECT date_bin(INTERVAL '1 minute', \`timestamp\`) AS time, severity_text AS metric, COUNT(*) AS value FROM ${LOGS_TABLE} WHERE ${WHERE} GROUP BY time, metric ORDER BY time`,
            'A',
            'time_series',
          ),
        ),
    )
    .withRow(new RowBuilder('Lines'))
    .withPanel(
      new LogsBuilder()
        .title('Logs')
        .datasource(LOGS)
        .height(20)
        .span(24)
        .showTime(true)
        .wrapLogMessage(true)
        .enableLogDetails(true)
        .withTarget(
          sql(
            `SELECT ${TIME_MS} AS time, severity_text AS level, body, node_name, source, source_id FROM ${LOGS_TABLE} WHERE ${WHERE} ORDER BY \`timestamp\` DESC LIMIT 1000`,
          ),
        ),
    );
}
