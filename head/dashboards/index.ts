// Every dashboard, by the file name it is written to (dashboards/<name>.json, `npm run dashboards`).
import { actorsDashboard } from './actors.ts';
import { clusterDashboard } from './cluster.ts';
import { homeDashboard } from './home.ts';
import { logsDashboard } from './logs.ts';

export const DASHBOARDS = {
  home: homeDashboard,
  cluster: clusterDashboard,
  actors: actorsDashboard,
  logs: logsDashboard,
} as const;

export type DashboardName = keyof typeof DASHBOARDS;

/** The JSON of a dashboard as committed (stable key order from the builder, 2-space indent). */
export function dashboardJson(name: DashboardName): string {
  return `${JSON.stringify(DASHBOARDS[name]().build(), null, 2)}\n`;
}
