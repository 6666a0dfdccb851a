// Writes dashboards/<name>.json from the typed code in head/dashboards/ (npm run dashboards). The head
// serves these files; test/dashboards.test.ts checks they match the code.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DASHBOARDS, type DashboardName, dashboardJson } from '../head/dashboards/index.ts';

const dir = join(import.meta.dirname, '..', 'dashboards');
for (const name of Object.keys(DASHBOARDS) as DashboardName[]) {
  writeFileSync(join(dir, `${name}.json`), dashboardJson(name));
  process.stdout.write(`wrote dashboards/${name}.json\n`);
}
