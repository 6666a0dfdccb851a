// nokube get <kind> [name...] for objects: kubectl's columns (print/columns.ts), -A adds NAMESPACE, -o
// wide|json|yaml|name, -l selector, -w prints each change after the listing (WebSocket from a head).

import { UsageError } from '../../../agent/errors.ts';
import { objectName } from '../../../agent/objects/kubectl-names.ts';
import type { Kind, KubeObject } from '../../../agent/objects/types.ts';
import { namespaced, RESOURCE } from '../../../agent/objects/types.ts';
import { HeadError, type HeadFlags, headRequest, liveHead, socketOptions } from '../head-client.ts';
import { whenRefused } from '../head-socket.ts';
import { objectPath, query, refFor, resolveKind } from '../objects-api.ts';
import { serialize, table } from '../output.ts';
import { columnsFor } from '../print/columns.ts';

export interface GetFlags extends HeadFlags {
  output?: string;
  namespace?: string;
  allNamespaces: boolean;
  selector?: string;
  watch: boolean;
}

type Format = 'table' | 'wide' | 'json' | 'yaml' | 'name';
const FORMATS: Format[] = ['wide', 'json', 'yaml', 'name'];

interface ObjectList {
  apiVersion: string;
  kind: 'List';
  metadata: { resourceVersion: string };
  items: KubeObject[];
}

export async function getObjects(kindWord: string, names: string[], opts: GetFlags): Promise<void> {
  const format = (opts.output ?? 'table') as Format;
  if (format !== 'table' && !FORMATS.includes(format))
    throw new UsageError(`-o ${opts.output}: expected one of ${FORMATS.join(', ')}`);
  const kind = resolveKind(kindWord);
  const all = opts.allNamespaces && namespaced(kind);
  const namespace = all || !namespaced(kind) ? undefined : (opts.namespace ?? 'default');
  // Secret values only where kubectl shows them: -o json / -o yaml.
  const secrets = (format === 'json' || format === 'yaml') && 'show';
  let items: KubeObject[];
  let revision: string | undefined;
  const missing: string[] = [];
  if (names.length > 0) {
    items = [];
    for (const name of names) {
      try {
        items.push(
          await headRequest<KubeObject>(
            opts,
            'GET',
            `${objectPath(refFor(kind, name, namespace))}${query({ secrets })}`,
          ),
        );
      } catch (err) {
        // kubectl: the others are printed, each missing one said, exit 1 (one name: just the error).
        if (names.length === 1 || !(err instanceof HeadError && err.status === 404)) throw err;
        missing.push(err.message);
      }
    }
  } else {
    const list = await headRequest<ObjectList>(
      opts,
      'GET',
      `/api/v1/objects/${RESOURCE[kind]}${query({ namespace, labelSelector: opts.selector, secrets })}`,
    );
    items = list.items;
    revision = list.metadata.resourceVersion;
  }
  const printer = makePrinter(kind, format, all);
  if (format === 'json' || format === 'yaml') {
    const value = names.length === 1 ? items[0] : { apiVersion: 'v1', kind: 'List', items };
    process.stdout.write(serialize(value, format));
  } else if (items.length === 0 && !opts.watch) {
    process.stderr.write(`No resources found${namespace ? ` in ${namespace} namespace` : ''}.\n`);
  } else {
    process.stdout.write(printer(items, true));
  }
  if (missing.length > 0)
    // Exit 1 as kubectl's (not a usage error).
    throw new Error(missing.join('\n'));
  if (opts.watch) await watch(kind, names, namespace, revision, opts, printer, secrets || undefined);
}

function makePrinter(
  kind: Kind,
  format: Format,
  all: boolean,
): (items: KubeObject[], header: boolean) => string {
  if (format === 'name')
    return (items) => items.map((o) => `${objectName({ kind, name: o.metadata.name })}\n`).join('');
  if (format === 'json' || format === 'yaml')
    return (items) => items.map((o) => serialize(o, format)).join('');
  const cols = columnsFor(kind, format === 'wide');
  const headers = all ? ['NAMESPACE', ...cols.headers] : cols.headers;
  return (items, header) => {
    const rows = items.map((o) => (all ? [o.metadata.namespace ?? '', ...cols.row(o)] : cols.row(o)));
    const text = table(headers, rows);
    return header ? text : text.slice(text.indexOf('\n') + 1);
  };
}

async function watch(
  kind: Kind,
  names: string[],
  namespace: string | undefined,
  revision: string | undefined,
  opts: GetFlags,
  print: (items: KubeObject[], header: boolean) => string,
  secrets: string | undefined,
): Promise<void> {
  const head = await liveHead(opts);
  const { server } = head;
  const q = query({ namespace, labelSelector: opts.selector, resourceVersion: revision, secrets });
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(
    `${server.replace(/^http/, 'ws')}/api/v1/watch/${RESOURCE[kind]}${q}`,
    socketOptions(head),
  );
  await new Promise<void>((resolve, reject) => {
    whenRefused(ws, reject);
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as { type: string; object: KubeObject };
      if (names.length > 0 && !names.includes(msg.object.metadata.name)) return;
      process.stdout.write(print([msg.object], false));
    });
    ws.on('error', reject);
    ws.on('close', (code, reason) =>
      code === 1000 || code === 1005
        ? resolve()
        : reject(new Error(`watch ended: ${code} ${reason.toString()}`)),
    );
  });
}
