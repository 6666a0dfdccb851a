// Which cluster a client command talks to: --etcd/--cluster flags, then NOKUBE_ETCD/NOKUBE_CLUSTER,
// then the context file that `nokube new-or-update` and `nokube up` write ($NOKUBE_HOME/context.json,
// NOKUBE_HOME defaulting to ~/.nokube). Nothing else is guessed. With the config's `tls` it also names
// the cluster CA the heads are verified against (NOKUBE_CA overrides it) and the CLI's client certificate
// it presents to them (NOKUBE_CLIENT_CERT + NOKUBE_CLIENT_KEY override it). The ACL token the CLI sends is
// NOKUBE_TOKEN, else the one `nokube login` kept in the same file (mode 0600).
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DOCUMENTED_DEFAULTS } from '../../agent/config/defaults.ts';
import type { ClusterConfig } from '../../agent/config/schema.ts';
import { UsageError } from '../../agent/errors.ts';
import type { EtcdSettings } from '../../agent/store/etcd.ts';
import { cliEtcdSettings } from '../../agent/tls/etcd-served.ts';
import { PKI_FILES } from '../../agent/tls/layout.ts';

export interface ClientContext {
  cluster: string;
  etcd: EtcdSettings;
  /** The cluster CA's certificate (a path): the heads serve HTTPS (config `tls`) and are verified
   * against it, not against the system's CAs. */
  headCa?: string;
  /** The CLI's client certificate and its key (paths; config `tls`: tls.dir/cli.pem, cli-key.pem),
   * presented to the heads: with ACL on it stands for `cli` with policy ops-admin, no token needed. */
  clientCert?: string;
  clientKey?: string;
}

/** The file also holds the token of `nokube login` (never put in a ClientContext: nothing logs it). */
interface SavedContext extends ClientContext {
  token?: string;
}

export interface ContextFlags {
  etcd?: string;
  cluster?: string;
}

export const nokubeHome = () => process.env.NOKUBE_HOME ?? join(homedir(), '.nokube');
export const contextFile = () => join(nokubeHome(), 'context.json');

export async function resolveContext(flags: ContextFlags): Promise<ClientContext> {
  const saved = await readSavedContext();
  const endpointsText = flags.etcd || process.env.NOKUBE_ETCD || undefined;
  const cluster = flags.cluster || process.env.NOKUBE_CLUSTER || saved?.cluster;
  const endpoints = endpointsText ? endpointsText.split(',').map((e) => e.trim()) : saved?.etcd.endpoints;
  if (!cluster || !endpoints) {
    throw new UsageError(
      `no cluster selected: pass --etcd <url> --cluster <name>, set NOKUBE_ETCD and NOKUBE_CLUSTER, or run \`nokube new-or-update <cluster.yaml>\` (writes ${contextFile()})`,
    );
  }
  const etcd: EtcdSettings = {
    endpoints,
    dialTimeoutMs: saved?.etcd.dialTimeoutMs ?? DOCUMENTED_DEFAULTS['etcd.dialTimeoutMs'],
  };
  // The saved client certificate goes with the saved cluster, also to its https endpoints given by flag or
  // environment (an etcd served with TLS by new-or-update takes only certificates of the cluster CA).
  const https = endpoints.every((e) => e.startsWith('https://'));
  if (saved?.etcd.tls && (!endpointsText || (saved.cluster === cluster && https))) etcd.tls = saved.etcd.tls;
  // NOKUBE_CA names the CA for a cluster chosen by flags or environment; the saved one is that cluster's.
  const ours = saved?.cluster === cluster ? saved : undefined;
  const headCa = process.env.NOKUBE_CA || ours?.headCa || undefined;
  return { cluster, etcd, ...(headCa ? { headCa } : {}), ...clientCertificate(ours) };
}

/** NOKUBE_CLIENT_CERT and NOKUBE_CLIENT_KEY (both or neither), else the saved pair of this cluster. */
export function clientCertificate(
  saved: ClientContext | undefined,
): Pick<ClientContext, 'clientCert' | 'clientKey'> {
  const cert = process.env.NOKUBE_CLIENT_CERT || undefined;
  const key = process.env.NOKUBE_CLIENT_KEY || undefined;
  if (cert && key) return { clientCert: cert, clientKey: key };
  if (cert || key)
    throw new UsageError(
      `${cert ? 'NOKUBE_CLIENT_CERT' : 'NOKUBE_CLIENT_KEY'} is set without ${cert ? 'NOKUBE_CLIENT_KEY' : 'NOKUBE_CLIENT_CERT'}: set both (a certificate and its key) or neither`,
    );
  return saved?.clientCert && saved.clientKey
    ? { clientCert: saved.clientCert, clientKey: saved.clientKey }
    : {};
}

async function readSavedContext(): Promise<SavedContext | null> {
  try {
    return JSON.parse(await readFile(contextFile(), 'utf8')) as SavedContext;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UsageError(`${contextFile()}: ${(err as Error).message}`);
  }
}

/** Save the context; the token of `nokube login` is kept while the cluster stays the same. */
export async function saveContext(ctx: ClientContext): Promise<string> {
  const saved = await readSavedContext().catch(() => null);
  const token = saved?.token !== undefined && saved.cluster === ctx.cluster ? { token: saved.token } : {};
  return writeContext({ ...contextFields(ctx), ...token });
}

/** The context `new-or-update` and `up` save for a cluster config: with `tls`, its CA and the CLI's
 * certificate in tls.dir (the same certificate reaches an etcd it serves with TLS: agent/tls/etcd-served.ts). */
export function clientContextOf(config: ClusterConfig): ClientContext {
  const tls = config.tls
    ? {
        headCa: join(config.tls.dir, PKI_FILES.caCert),
        clientCert: join(config.tls.dir, PKI_FILES.cliCert),
        clientKey: join(config.tls.dir, PKI_FILES.cliKey),
      }
    : {};
  return { cluster: config.cluster, etcd: cliEtcdSettings(config), ...tls };
}

/** What is saved of a context (a token is added by the callers that keep one). */
function contextFields(ctx: ClientContext): ClientContext {
  return {
    cluster: ctx.cluster,
    etcd: ctx.etcd,
    ...(ctx.headCa ? { headCa: ctx.headCa } : {}),
    ...(ctx.clientCert && ctx.clientKey ? { clientCert: ctx.clientCert, clientKey: ctx.clientKey } : {}),
  };
}

async function writeContext(ctx: SavedContext): Promise<string> {
  await mkdir(nokubeHome(), { recursive: true, mode: 0o700 });
  await writeFile(contextFile(), JSON.stringify(ctx, null, 2) + '\n', { mode: 0o600 });
  // writeFile's mode applies to a new file only: one written before (0644) is tightened now.
  await chmod(contextFile(), 0o600);
  return contextFile();
}

/** The token requests to `cluster` carry: NOKUBE_TOKEN, else the one saved for that cluster (a token is
 * never sent to another cluster's heads). */
export async function resolveToken(cluster: string | undefined): Promise<string | undefined> {
  const env = process.env.NOKUBE_TOKEN?.trim();
  if (env) return env;
  const saved = await readSavedContext();
  return saved && saved.cluster === cluster ? saved.token : undefined;
}

/** Keep `token` in the context of `ctx`'s cluster (`nokube login`). */
export async function saveToken(ctx: ClientContext, token: string): Promise<string> {
  return writeContext({ ...contextFields(ctx), token });
}
