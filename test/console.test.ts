// The web console (/ui) in headless Chromium against a real cluster (etcd, two agents, Docker pods), and
// `nokube top` from the same figures: nodes render with live figures that change, the actor tree shows a
// Deployment with its pods, a pod's logs follow live. A screenshot is saved to test-artifacts/console.png.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { storeConfig } from '../agent/store/config-store.ts';
import { gotoSteady } from './harness/browser.ts';
import { createTestCluster, eventually, getJson, REPO, runCli, type TestCluster } from './harness/cluster.ts';
import { ensureBusyboxImage, requireDocker } from './harness/docker.ts';

describe('web console and nokube top', { timeout: 240_000 }, () => {
  let c: TestCluster;
  let browser: Browser;
  let sink: Server;

  before(async () => {
    await requireDocker();
    const image = await ensureBusyboxImage();
    // A store that takes whatever the agents write (the console needs no store; the 1 s interval does).
    sink = createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const port = (sink.address() as AddressInfo).port;
    c = await createTestCluster({ nodes: 2, net: 62 });
    const monitoring = `monitoring:\n  metricsIntervalSeconds: 1\n  greptimedb: {address: 127.0.0.1, httpPort: ${port}, db: public}\n  grafana: {address: 127.0.0.1, port: ${port}}\n`;
    await c.withEtcd((etcd) =>
      storeConfig(etcd, c.configYaml(undefined, monitoring), c.configFile, 'test', 'latest').then(
        () => undefined,
      ),
    );
    await Promise.all([c.startAgent('n1'), c.startAgent('n2')]);
    await eventually(() => getJson(`${c.headUrl()}/readyz`), 30_000, 'head ready');
    const r = await runCli(
      ['apply', '-f', '-'],
      c.env,
      `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n        - name: main\n          image: ${image}\n          command: [sh, -c, 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done']\n`,
    );
    assert.equal(r.code, 0, r.stderr);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    await runCli(['delete', 'deployment', 'web', '--ignore-not-found'], c?.env ?? {}).catch(() => undefined);
    await c?.stop();
    sink?.close();
  });

  test('nokube top nodes and top pods print the figures the heads keep', async () => {
    const nodes = await eventually(
      async () => {
        // A node is listed once its first summary reached the head: each in its own time.
        const r = await runCli(['top', 'nodes'], c.env);
        return r.code === 0 && /^n1\s/m.test(r.stdout) && /^n2\s/m.test(r.stdout) ? r.stdout : undefined;
      },
      30_000,
      'top nodes with both nodes',
    );
    const lines = nodes.trim().split('\n');
    assert.match(lines[0]!, /^NAME\s+CPU\(cores\)\s+CPU%\s+MEMORY\(bytes\)\s+MEMORY%\s+NET RX\s+NET TX$/);
    assert.match(lines[1]!, /^n1\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%\s+\S+\/s\s+\S+\/s$/);
    const pods = await eventually(
      async () => {
        const r = await runCli(['top', 'pods'], c.env);
        return r.code === 0 && r.stdout.trim().split('\n').length === 3 ? r.stdout : undefined;
      },
      60_000,
      'top pods with both pods',
    );
    assert.match(pods, /^NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)\s+NODE\n/);
    assert.match(pods, /^web-\S+\s+\d+m\s+\d+Mi\s+n[12]$/m);
    const none = await runCli(['top', 'pods', '-n', 'nowhere'], c.env);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no running pods with figures in namespace nowhere/);
  });

  test('the console shows live nodes, the actor tree, and a pod’s logs following', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await gotoSteady(page, `${c.headUrl()}/ui`);
    await page.waitForSelector('#conn.ok', { timeout: 15_000 });
    await page.waitForSelector('#nodes tr[data-node="n2"] td.cpu .bar', { timeout: 30_000 });
    await page.waitForSelector('#nodes tr[data-node="n1"] td.cpu .bar', { timeout: 30_000 });
    // Live: the figures change without a reload.
    const rx = () =>
      page.$$eval('#nodes tbody tr td.cpu, #nodes tbody tr td.mem', (tds) =>
        tds.map((t) => t.textContent).join('|'),
      );
    const first = await rx();
    await eventually(
      async () => ((await rx()) !== first ? true : undefined),
      20_000,
      'node figures changing',
    );
    assert.equal(await page.textContent('#nodes tr[data-node="n1"] td:nth-child(2)'), 'alive');
    // The actor tree: default -> deployment web -> its two pods.
    await page.waitForFunction(
      `document.querySelectorAll('#tree details[data-key="deployment/default/web"] .pod').length === 2`,
      undefined,
      { timeout: 30_000 },
    );
    await page.click('#tree details[data-key="ns/default"] > summary');
    await page.click('#tree details[data-key="deployment/default/web"] > summary');
    // A pod's detail: its logs follow live.
    await page.click('#tree details[data-key="deployment/default/web"] .pod');
    await page.waitForFunction("/tick \\d+/.test(document.querySelector('#log').textContent)", undefined, {
      timeout: 30_000,
    });
    const lines = async () => ((await page.textContent('#log')) ?? '').match(/tick \d+/g)?.length ?? 0;
    const n = await lines();
    await eventually(async () => ((await lines()) > n ? true : undefined), 15_000, 'more log lines arriving');
    assert.match((await page.textContent('#events')) ?? '', /Started/);
    await mkdir(join(REPO, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(REPO, 'test-artifacts', 'console.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });
});
