// Actors: what runs where. Every k8s element from the `nokube_actor` metric in one table — namespaces,
// deployments, daemonsets, jobs, configmaps, secrets (from the kubecontroller leader), pods and containers
// (from the agents running them) — picked by category and namespace in the top bar; pods sort next to the
// deployment/daemonset that owns them (owner columns first), phase and restarts coloured.

import { TableSortByFieldStateBuilder } from '@grafana/grafana-foundation-sdk/common';
import {
  CustomVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { clusterVariable, liveDashboard, METRICS, promql, promTable, UIDS } from './common.ts';

export const ACTOR_KINDS = [
  'namespace',
  'deployment',
  'daemonset',
  'job',
  'pod',
  'container',
  'configmap',
  'secret',
];
const SEL = 'cluster="$cluster", kind=~"$kind", namespace=~"$namespace"';

const phaseColours = {
  type: 'value',
  options: {
    Running: { color: 'green', index: 0 },
    running: { color: 'green', index: 1 },
    Succeeded: { color: 'blue', index: 2 },
    Available: { color: 'green', index: 3 },
    Pending: { color: 'yellow', index: 4 },
    Progressing: { color: 'yellow', index: 5 },
    Failed: { color: 'red', index: 6 },
    Unknown: { color: 'orange', index: 7 },
  },
};
const phasePatterns = [
  {
    type: 'regex',
    options: {
      pattern: '^waiting:(CrashLoopBackOff|ImagePullBackOff|ErrImagePull|ErrImageNeverPull|CreateContainerConfigError|CreateContainerError|RunContainerError)$',
      result: { color: 'red', index: 8 },
    },
  },
  { type: 'regex', options: { pattern: '^waiting.*', result: { color: 'yellow', index: 9 } } },
  { type: 'regex', options: { pattern: '^terminated:Completed$', result: { color: 'blue', index: 10 } } },
  { type: 'regex', options: { pattern: '^terminated.*', result: { color: 'red', index: 11 } } },
];

export function actorsDashboard() {
  return liveDashboard('nokube / Actors', UIDS.actors, 'now-15m')
    .withVariable(clusterVariable())
    .withVariable(
      new CustomVariableBuilder('kind')
        .label('Category')
        .values(ACTOR_KINDS.join(','))
        .multi(true)
        .includeAll(true)
        .allValue('.+'),
    )
    .withVariable(
      new QueryVariableBuilder('namespace')
        .label('Namespace')
        .datasource(METRICS)
        .query('label_values(nokube_actor{cluster="$cluster"}, namespace)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    )
    .withRow(new RowBuilder('Summary'))
    .withPanel(
      new StatBuilder()
        .title('By category')
        .datasource(METRICS)
        .height(4)
        .span(12)
        .withTarget(promql(`count by (kind) (nokube_actor{${SEL}})`, '{{kind}}')),
    )
    .withPanel(
      new StatBuilder()
        .title('Restarts (pods)')
        .datasource(METRICS)
        .height(4)
        .span(6)
        .withTarget(promql(`sum(nokube_actor{cluster="$cluster", kind="pod", namespace=~"$namespace"})`)),
    )
    .withPanel(
      new StatBuilder()
        .title('Pods not running')
        .datasource(METRICS)
        .height(4)
        .span(6)
        .withTarget(
          promql(
            `count(nokube_actor{cluster="$cluster", kind="pod", namespace=~"$namespace", phase!~"Running|Succeeded"}) or vector(0)`,
          ),
        ),
    )
    .withRow(new RowBuilder('Everything'))
    .withPanel(
      new TableBuilder()
        .title('Actors')
        .datasource(METRICS)
        .height(18)
        .span(24)
        .withTarget(promTable(`nokube_actor{${SEL}}`))
        .withTransformation({
          id: 'organize',
          options: {
            excludeByName: { Time: true, __name__: true, cluster: true },
            indexByName: {
              owner_kind: 0,
              owner_name: 1,
              kind: 2,
              namespace: 3,
              name: 4,
              phase: 5,
              Value: 6,
              node: 7,
              owner_path: 8,
            },
            renameByName: {
              Value: 'restarts',
              owner_kind: 'owner kind',
              owner_name: 'owner',
              owner_path: 'ownership path',
            },
          },
        })
        .sortBy([
          new TableSortByFieldStateBuilder().displayName('namespace').desc(false),
          new TableSortByFieldStateBuilder().displayName('owner').desc(false),
        ])
        .overrideByName('phase', [
          { id: 'mappings', value: [phaseColours, ...phasePatterns] },
          { id: 'custom.cellOptions', value: { type: 'color-background' } },
        ])
        .overrideByName('restarts', [
          {
            id: 'thresholds',
            value: {
              mode: 'absolute',
              steps: [
                { color: 'green', value: null },
                { color: 'yellow', value: 1 },
                { color: 'red', value: 5 },
              ],
            },
          },
          { id: 'custom.cellOptions', value: { type: 'color-text' } },
        ]),
    )
    .withRow(new RowBuilder('Containers'))
    .withPanel(
      new TimeseriesBuilder()
        .title('Container CPU')
        .unit('short')
        .datasource(METRICS)
        .height(8)
        .span(12)
        .withTarget(
          promql(
            `nokube_container_cpu_cores{cluster="$cluster", namespace=~"$namespace"}`,
            '{{pod}}/{{container}}',
          ),
        ),
    )
    .withPanel(
      new TimeseriesBuilder()
        .title('Container memory')
        .unit('bytes')
        .datasource(METRICS)
        .height(8)
        .span(12)
        .withTarget(
          promql(
            `nokube_container_memory_bytes{cluster="$cluster", namespace=~"$namespace"}`,
            '{{pod}}/{{container}}',
          ),
        ),
    );
}
