// Cluster: which host is hot. Per node CPU, memory, network up/down, disk and load; `node` picks nodes,
// the ad hoc filter narrows by any label (node labels are `label_<key>` on every series).
import {
  AdHocVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import {
  clusterVariable,
  dashboardsLink,
  liveDashboard,
  METRICS,
  promql,
  promTable,
  UIDS,
} from './common.ts';

const SEL = 'cluster="$cluster", node=~"$node"';

const timeseries = (title: string, unit: string, ...targets: ReturnType<typeof promql>[]) => {
  const p = new TimeseriesBuilder()
    .title(title)
    .unit(unit)
    .datasource(METRICS)
    .fillOpacity(10)
    .height(8)
    .span(12);
  for (const t of targets) p.withTarget(t);
  return p;
};

export function clusterDashboard() {
  return liveDashboard('nokube / Cluster', UIDS.cluster, 'now-1h')
    .link(dashboardsLink())
    .withVariable(clusterVariable())
    .withVariable(
      new QueryVariableBuilder('node')
        .label('Node')
        .datasource(METRICS)
        .query('label_values(nokube_node_cpu_usage_ratio{cluster="$cluster"}, node)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.+'),
    )
    .withVariable(new AdHocVariableBuilder('filter').label('Labels').datasource(METRICS))
    .withRow(new RowBuilder('Now'))
    .withPanel(
      new TableBuilder()
        .title('Nodes')
        .datasource(METRICS)
        .height(7)
        .span(24)
        .withTarget(promTable(`nokube_node_cpu_usage_ratio{${SEL}}`, 'CPU'))
        .withTarget(
          promTable(
            `nokube_node_memory_bytes{${SEL}, kind="used"} / ignoring(kind) nokube_node_memory_bytes{${SEL}, kind="total"}`,
            'MEM',
          ),
        )
        .withTarget(promTable(`nokube_node_network_receive_bytes_per_second{${SEL}, interface="all"}`, 'RX'))
        .withTarget(promTable(`nokube_node_network_transmit_bytes_per_second{${SEL}, interface="all"}`, 'TX'))
        .withTarget(promTable(`nokube_node_load{${SEL}, period="1m"}`, 'LOAD'))
        .withTransformation({ id: 'merge', options: {} })
        .withTransformation({
          id: 'organize',
          options: {
            excludeByName: {
              Time: true,
              __name__: true,
              cluster: true,
              kind: true,
              interface: true,
              period: true,
            },
            renameByName: {
              'Value #CPU': 'CPU',
              'Value #MEM': 'Memory',
              'Value #RX': 'Down',
              'Value #TX': 'Up',
              'Value #LOAD': 'Load 1m',
            },
          },
        })
        .overrideByName('CPU', [{ id: 'unit', value: 'percentunit' }])
        .overrideByName('Memory', [{ id: 'unit', value: 'percentunit' }])
        .overrideByName('Down', [{ id: 'unit', value: 'Bps' }])
        .overrideByName('Up', [{ id: 'unit', value: 'Bps' }]),
    )
    .withRow(new RowBuilder('CPU and memory'))
    .withPanel(
      timeseries('CPU busy', 'percentunit', promql(`nokube_node_cpu_usage_ratio{${SEL}}`, '{{node}}')).max(1),
    )
    .withPanel(
      timeseries(
        'Memory used',
        'percentunit',
        promql(
          `nokube_node_memory_bytes{${SEL}, kind="used"} / ignoring(kind) nokube_node_memory_bytes{${SEL}, kind="total"}`,
          '{{node}}',
        ),
      ).max(1),
    )
    .withPanel(
      timeseries('Load (1 min)', 'short', promql(`nokube_node_load{${SEL}, period="1m"}`, '{{node}}')),
    )
    .withPanel(
      timeseries('Swap used', 'bytes', promql(`nokube_node_swap_bytes{${SEL}, kind="used"}`, '{{node}}')),
    )
    .withRow(new RowBuilder('Network'))
    .withPanel(
      timeseries(
        'Down (received)',
        'Bps',
        promql(`nokube_node_network_receive_bytes_per_second{${SEL}, interface="all"}`, '{{node}}'),
      ),
    )
    .withPanel(
      timeseries(
        'Up (sent)',
        'Bps',
        promql(`nokube_node_network_transmit_bytes_per_second{${SEL}, interface="all"}`, '{{node}}'),
      ),
    )
    .withRow(new RowBuilder('Disks'))
    .withPanel(
      timeseries(
        'Disk used',
        'percentunit',
        promql(
          `nokube_node_filesystem_bytes{${SEL}, kind="used"} / ignoring(kind) nokube_node_filesystem_bytes{${SEL}, kind="size"}`,
          '{{node}} {{mount}}',
        ),
      ).max(1),
    )
    .withPanel(
      timeseries(
        'Disk free',
        'bytes',
        promql(
          `nokube_node_filesystem_bytes{${SEL}, kind="size"} - ignoring(kind) nokube_node_filesystem_bytes{${SEL}, kind="used"}`,
          '{{node}} {{mount}}',
        ),
      ),
    )
    .withRow(new RowBuilder('Agents'))
    .withPanel(
      timeseries(
        'Event-loop lag p99',
        's',
        promql(`nokube_event_loop_lag_seconds{${SEL}, quantile="0.99"}`, '{{node}}'),
      ),
    )
    .withPanel(
      timeseries(
        'Export queue',
        'bytes',
        promql(`nokube_export_queue_bytes{${SEL}}`, '{{node}} {{pipeline}}'),
      ),
    )
    .withRow(new RowBuilder('Image prewarm'))
    .withPanel(
      // The leading head's gauges (head/prewarm/metrics.ts): one row per task.
      new TableBuilder()
        .title('Prewarm tasks')
        .datasource(METRICS)
        .height(7)
        .span(24)
        .withTarget(
          promTable(
            'sum by (namespace, task, result) (nokube_prewarm_task_nodes{cluster="$cluster"})',
            'NODES',
          ),
        )
        .withTransformation({
          id: 'groupingToMatrix',
          options: { columnField: 'result', rowField: 'task', valueField: 'Value #NODES' },
        }),
    )
    .withPanel(
      timeseries(
        'Prewarm task duration',
        's',
        promql(
          'max by (namespace, task, phase) (nokube_prewarm_task_duration_seconds{cluster="$cluster"})',
          '{{namespace}}/{{task}} {{phase}}',
        ),
      ),
    )
    .withPanel(
      timeseries(
        'Prewarm tasks by phase',
        'short',
        promql('sum by (phase) (nokube_prewarm_tasks{cluster="$cluster"})', '{{phase}}'),
      ),
    )
    .withPanel(
      timeseries(
        'Images fetched: from peers vs over the uplink (5 min)',
        'short',
        promql(`sum by (source) (increase(nokube_image_fetches_total{${SEL}}[5m]))`, '{{source}}'),
      ),
    )
    .withPanel(
      timeseries(
        'Image bytes between peers (5 min)',
        'bytes',
        promql(`sum by (direction) (increase(nokube_image_peer_bytes_total{${SEL}}[5m]))`, '{{direction}}'),
      ),
    )
    .withPanel(
      timeseries(
        'Image pulls by node (5 min)',
        'short',
        promql(
          `sum by (node, result) (increase(nokube_image_pulls_total{${SEL}}[5m]))`,
          '{{node}} {{result}}',
        ),
      ),
    );
}
