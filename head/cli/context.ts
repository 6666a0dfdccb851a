// Which cluster a client command talks to: --etcd/--cluster flags, then NOKUBE_ETCD/NOKUBE_CLUSTER,
// then the context file that `nokube new-or-update` and `nokube up` write ($NOKUBE_HOME/context.json,
// NOKUBE_HOME defaulting to ~/.nokube). Nothing else is guessed.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DOCUMENTED_DEFAULTS } from '../../agent/config/schema.ts';
import { UsageError } from '../../agent/errors.ts';
import type { EtcdSettings } from '../../agent/store/etcd.ts';

export interface ClientContext {
  cluster: string;
  etcd: EtcdSettings;
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
  if (saved?.etcd.tls && !endpointsText) etcd.tls = saved.etcd.tls;
  return { cluster, etcd };
}

async function readSavedContext(): Promise<ClientContext | null> {
  try {
    return JSON.parse(await readFile(contextFile(), 'utf8')) as ClientContext;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UsageError(`${contextFile()}: ${(err as Error).message}`);
  }
}

export async function saveContext(ctx: ClientContext): Promise<string> {
  await mkdir(nokubeHome(), { recursive: true, mode: 0o700 });
  await writeFile(contextFile(), JSON.stringify(ctx, null, 2) + '\n', { mode: 0o600 });
  return contextFile();
}
