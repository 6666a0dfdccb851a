// GreptimeDB and Grafana as Docker containers on the head node whose address the config gives them
// (`monitoring.<service>.container.image`): host network, data under the head's workspace, Grafana's
// provisioning and nokube's dashboards written by the head and mounted read-only. Part of the head's start
// (cluster bring-up), re-checked on every config change and every minute; never part of `apply`. A
// container whose spec is unchanged is adopted as it is (a running one is never restarted, unless the
// credentials file it reads at start changed: GreptimeDB's users, greptimedb-users.ts); a changed spec
// replaces it.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { ClusterConfig, NodeConfig } from '../../agent/config/schema.ts';
import type { Logger } from '../../agent/log/logger.ts';
import { hostForUrl } from '../../agent/net/urls.ts';
import { imagePresent, pullImage } from '../../agent/runtime/images.ts';
import {
  DASHBOARD_FILES,
  dashboardsProviderYaml,
  datasourcesYaml,
  GRAFANA_DASHBOARDS_DIR,
  renderDashboard,
} from '../dashboards/serve.ts';
import {
  USERS_DIR_IN_CONTAINER,
  USERS_FILE_IN_CONTAINER,
  usersDir,
  usersFileContent,
  writePrivateIfChanged,
} from './greptimedb-users.ts';

export const SERVICE_LABEL = 'nokube.service';
const CLUSTER_LABEL = 'nokube.cluster';
const HASH_LABEL = 'nokube.spec-hash';

export type ServiceName = 'greptimedb' | 'grafana';

interface ServiceSpec {
  name: ServiceName;
  container: string;
  image: string;
  cmd?: string[];
  env?: string[];
  binds: string[];
  /** Files the head writes before the container starts (path -> content). */
  files: Map<string, string>;
  /** Files of the host mounted read-only at the same path, that must be there (path -> config field). */
  secrets?: Map<string, string>;
  /** A file the head writes privately (0600) from secrets, read by the service at its start: when its
   * content changes the container is restarted (the content is in no label or hash). */
  credentials?: { path: string; content?: () => Promise<string> };
}

/** The containers this head should run for the config (none when it is not at their address). */
export function serviceSpecs(config: ClusterConfig, self: NodeConfig): ServiceSpec[] {
  const m = config.monitoring;
  if (!m || !self.roles.includes('head')) return [];
  const specs: ServiceSpec[] = [];
  const g = m.greptimedb;
  if (g.container && g.address === self.address) {
    const data = join(self.workspace, 'greptimedb');
    // With auth, GreptimeDB checks the credentials the agents and Grafana send (greptimedb-users.ts).
    const auth = g.auth;
    const users = usersDir(self.workspace);
    specs.push({
      name: 'greptimedb',
      container: `nokube_${config.cluster}_greptimedb`,
      image: g.container.image,
      cmd: [
        'standalone',
        'start',
        '--data-home',
        '/greptimedb_data',
        '--http-addr',
        `${hostForUrl(g.address)}:${g.httpPort}`,
        '--mysql-addr',
        `${hostForUrl(g.address)}:${g.mysqlPort}`,
        ...(auth ? [`--user-provider=static_user_provider:file:${USERS_FILE_IN_CONTAINER}`] : []),
      ],
      binds: [`${data}:/greptimedb_data`, ...(auth ? [`${users}:${USERS_DIR_IN_CONTAINER}:ro`] : [])],
      files: new Map(),
      // Without auth the file is removed: no password is left on disk for nothing.
      credentials: {
        path: join(users, 'users'),
        ...(auth ? { content: () => usersFileContent(auth.user, auth.passwordFile) } : {}),
      },
    });
  }
  const gf = m.grafana;
  if (gf.container && gf.address === self.address) {
    const root = join(self.workspace, 'grafana');
    const files = new Map<string, string>();
    files.set(join(root, 'provisioning', 'datasources', 'nokube.yaml'), datasourcesYaml(config)!);
    files.set(join(root, 'provisioning', 'dashboards', 'nokube.yaml'), dashboardsProviderYaml());
    for (const name of Object.keys(DASHBOARD_FILES))
      files.set(join(root, 'dashboards', `${name}.json`), renderDashboard(name, config, self)!);
    // Secrets reach Grafana as files mounted read-only at the paths the config names (the datasources read
    // the GreptimeDB password with $__file{...}, Grafana the admin password with its __FILE variable): no
    // password in the container's environment, its arguments or the files the head writes.
    const secrets = new Map<string, string>();
    if (g.auth) secrets.set(g.auth.passwordFile, 'monitoring.greptimedb.auth.passwordFile');
    if (gf.adminPasswordFile) secrets.set(gf.adminPasswordFile, 'monitoring.grafana.adminPasswordFile');
    specs.push({
      name: 'grafana',
      container: `nokube_${config.cluster}_grafana`,
      image: gf.container.image,
      env: [
        `GF_SERVER_HTTP_ADDR=${gf.address}`,
        `GF_SERVER_HTTP_PORT=${gf.port}`,
        'GF_PATHS_PROVISIONING=/etc/grafana/provisioning',
        `GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH=${GRAFANA_DASHBOARDS_DIR}/home.json`,
        ...(gf.adminPasswordFile ? [`GF_SECURITY_ADMIN_PASSWORD__FILE=${gf.adminPasswordFile}`] : []),
      ],
      binds: [
        `${join(root, 'data')}:/var/lib/grafana`,
        `${join(root, 'provisioning')}:/etc/grafana/provisioning:ro`,
        `${join(root, 'dashboards')}:${GRAFANA_DASHBOARDS_DIR}:ro`,
        ...[...secrets.keys()].map((f) => `${f}:${f}:ro`),
      ],
      files,
      secrets,
    });
  }
  return specs;
}

const specHash = (s: ServiceSpec) =>
  createHash('sha256')
    .update(JSON.stringify([s.image, s.cmd, s.env, s.binds]))
    .digest('hex')
    .slice(0, 16);

/** Write a file only when its content changed (atomically: a reader never sees half of it). */
async function writeIfChanged(path: string, content: string): Promise<void> {
  const old = await readFile(path, 'utf8').catch(() => undefined);
  if (old === content) return;
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(`${path}.tmp`, content);
  await rename(`${path}.tmp`, path);
}

/** Make the containers match the specs: create, start, adopt, replace, or remove ours no longer wanted. */
export async function reconcileServices(
  docker: Docker,
  cluster: string,
  specs: ServiceSpec[],
  log: Logger,
): Promise<void> {
  const ours = await docker.listContainers({
    all: true,
    filters: { label: [`${CLUSTER_LABEL}=${cluster}`, SERVICE_LABEL] },
  });
  for (const c of ours) {
    if (specs.some((s) => s.name === c.Labels[SERVICE_LABEL])) continue;
    log.info({ service: c.Labels[SERVICE_LABEL] }, 'service no longer in the config: removing its container');
    await docker.getContainer(c.Id).remove({ force: true });
  }
  for (const s of specs) {
    for (const [path, content] of s.files) await writeIfChanged(path, content);
    const credentialsChanged = s.credentials?.content
      ? await writePrivateIfChanged(s.credentials.path, await s.credentials.content())
      : false;
    if (s.credentials && !s.credentials.content) await rm(s.credentials.path, { force: true });
    for (const [path, field] of s.secrets ?? []) {
      // Docker would make a missing one an empty directory: say which field names it instead.
      await access(path, constants.R_OK).catch((err: NodeJS.ErrnoException) => {
        throw new Error(`${field} ${path}: ${err.code ?? 'unreadable'}`);
      });
    }
    for (const b of s.binds) {
      const host = b.split(':')[0]!;
      if (!s.files.has(host) && !s.secrets?.has(host)) await mkdir(host, { recursive: true });
    }
    const hash = specHash(s);
    const found = ours.find((c) => c.Labels[SERVICE_LABEL] === s.name);
    if (found && found.Labels[HASH_LABEL] === hash) {
      if (found.State !== 'running') {
        log.info({ service: s.name }, 'starting the stopped service container');
        await docker.getContainer(found.Id).start();
      } else if (credentialsChanged) {
        log.info({ service: s.name }, 'credentials changed: restarting the service container');
        await docker.getContainer(found.Id).restart();
      }
      continue;
    }
    if (found) {
      log.info({ service: s.name }, 'service spec changed: replacing its container');
      await docker.getContainer(found.Id).remove({ force: true });
    }
    if (!(await imagePresent(docker, s.image))) {
      log.info({ service: s.name, image: s.image }, 'pulling service image');
      await pullImage(docker, s.image);
    }
    await docker.createContainer({
      name: s.container,
      Image: s.image,
      ...(s.cmd ? { Cmd: s.cmd } : {}),
      ...(s.env ? { Env: s.env } : {}),
      Labels: { [CLUSTER_LABEL]: cluster, [SERVICE_LABEL]: s.name, [HASH_LABEL]: hash },
      HostConfig: { NetworkMode: 'host', Binds: s.binds, RestartPolicy: { Name: 'unless-stopped' } },
    });
    await docker.getContainer(s.container).start();
    log.info({ service: s.name, image: s.image }, 'service container started');
  }
}
