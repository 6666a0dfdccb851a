// Every PromQL query of the committed dashboards, with the variables substituted as Grafana would for a
// test cluster ("All" = the variable's allValue): panel targets, and `label_values(match, label)` variables.
export interface GrafanaDashboard {
  uid: string;
  title: string;
  schemaVersion?: number;
  templating?: {
    list: Array<{
      name: string;
      type: string;
      query?: string | { query?: string };
      allValue?: string;
      datasource?: { uid?: string };
    }>;
  };
  panels?: Array<{
    type: string;
    title?: string;
    datasource?: { uid?: string };
    targets?: Array<{ expr?: string; rawSql?: string }>;
  }>;
}

export function dashboardQueries(
  dashboards: GrafanaDashboard[],
  values: { cluster: string },
): {
  panels: Array<{ where: string; expr: string }>;
  variables: Array<{ where: string; label: string; match: string }>;
} {
  const panels: Array<{ where: string; expr: string }> = [];
  const variables: Array<{ where: string; label: string; match: string }> = [];
  for (const d of dashboards) {
    const vars = d.templating?.list ?? [];
    const subst = (q: string) =>
      q.replace(/\$\{?([a-zA-Z_]\w*)\}?/g, (all, name: string) => {
        if (name === 'cluster') return values.cluster;
        const v = vars.find((x) => x.name === name);
        return v?.allValue ?? all;
      });
    for (const v of vars) {
      if (v.type !== 'query' || v.datasource?.uid !== 'nokube-metrics') continue;
      const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
      const m = /^label_values\((.*),\s*(\w+)\)$/.exec(q);
      if (m) variables.push({ where: `${d.uid} $${v.name}`, match: subst(m[1]!), label: m[2]! });
    }
    for (const p of d.panels ?? []) {
      if (p.datasource?.uid !== 'nokube-metrics') continue;
      for (const t of p.targets ?? [])
        if (t.expr) panels.push({ where: `${d.uid} / ${p.title}`, expr: subst(t.expr) });
    }
  }
  return { panels, variables };
}
