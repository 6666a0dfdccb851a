// Home: where to go. Links to the other dashboards, GreptimeDB's own dashboard and the head's file server
// (their addresses come from the cluster config: the head rewrites the placeholders when it serves this).
import {
  DashboardBuilder,
  DashboardLinkBuilder,
  DashboardLinkType,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TextBuilder, TextMode } from '@grafana/grafana-foundation-sdk/text';
import { dashboardsLink, TAGS, UIDS } from './common.ts';
import { PLACEHOLDERS } from './ids.ts';

export function homeDashboard() {
  const content = [
    '## nokube',
    '',
    `- [Cluster](/d/${UIDS.cluster}): which host is hot (CPU, memory, network, disks)`,
    `- [Actors](/d/${UIDS.actors}): what runs where (namespaces, deployments, daemonsets, jobs, pods, containers, configmaps, secrets)`,
    `- [Logs](/d/${UIDS.logs}): what it logged (by node, source, pod, severity, text)`,
    `- [GreptimeDB dashboard](${PLACEHOLDERS.greptimedb}/dashboard/): the store itself`,
    `- [Files](${PLACEHOLDERS.fileServer}/): the head's file server`,
    `- [Web console](${PLACEHOLDERS.console}/ui): nokube's own console, live`,
  ].join('\n');
  return new DashboardBuilder('nokube / Home')
    .uid(UIDS.home)
    .tags(TAGS)
    .link(dashboardsLink())
    .link(
      new DashboardLinkBuilder('GreptimeDB')
        .type(DashboardLinkType.Link)
        .url(`${PLACEHOLDERS.greptimedb}/dashboard/`)
        .targetBlank(true),
    )
    .link(
      new DashboardLinkBuilder('Files')
        .type(DashboardLinkType.Link)
        .url(`${PLACEHOLDERS.fileServer}/`)
        .targetBlank(true),
    )
    .withPanel(
      new TextBuilder().title('Start here').mode(TextMode.Markdown).content(content).height(10).span(24),
    );
}
