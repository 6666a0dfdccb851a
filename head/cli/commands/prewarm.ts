// nokube prewarm create|get|list|cancel|wait: the prewarm tasks API of the head (head/prewarm/tasks-api.ts).
// `create --wait` and `wait` show a live progress bar (one line rewritten on a terminal, a line per change
// otherwise) and exit 0 when the task completes, 1 when it fails or is cancelled or --timeout passes.
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';
import type { TaskView } from '../../prewarm/task-view.ts';
import { type HeadFlags, headDelete, headGet, headPost } from '../head-client.ts';
import { headOptions } from '../manifest-files.ts';
import { age, parseOutput, serialize, table } from '../output.ts';
import { bar } from '../print/prewarm.ts';
import { WaitTimeoutError } from './delete.ts';
import { parseDuration } from './pod-stream.ts';

const TASKS = '/api/v1/prewarm/tasks';
/** How often `wait` reads the task. */
const WAIT_POLL_MS = 1000;

/** A task that failed or was cancelled: `wait` exits 1 with its message. */
export class PrewarmFailedError extends Error {
  override name = 'PrewarmFailedError';
}

type Flags = HeadFlags & { namespace?: string; output?: string };
const taskPath = (id: string, opts: Flags) =>
  `${TASKS}/${encodeURIComponent(id)}${opts.namespace ? `?namespace=${encodeURIComponent(opts.namespace)}` : ''}`;
const collect = (v: string, all: string[]) => [...all, v];

export function registerPrewarm(program: Command): void {
  const prewarm = program
    .command('prewarm')
    .description(
      'pull images onto nodes ahead of time, in batches (ImagePrewarm tasks): create, get, list, cancel, wait',
    );
  const sub = (spec: string, description: string) =>
    headOptions(
      prewarm
        .command(spec)
        .description(description)
        .option('-n, --namespace <ns>', 'namespace of the task (default "default")'),
    );

  sub('create', 'start a prewarm task')
    .requiredOption('--image <image>', 'an image to pull; repeatable', collect, [])
    .requiredOption('--batch-size <n>', 'nodes pulling at once')
    .option('--selector <k=v,...>', 'only nodes with these labels')
    .option(
      '--max-failure-ratio <r>',
      'fail the task when more than this share of nodes failed (default 0.1)',
    )
    .option('--retries <n>', 'attempts after a failed one, per node (default 2)')
    .option('--pull-timeout <duration>', 'one attempt may take this long (default 10m)')
    .option('--priority <n>', 'higher first on each node (default 0)')
    .option(
      '--image-pull-secret <name>',
      "a Secret of the task's namespace with registry credentials; repeatable",
      collect,
      [],
    )
    .option('--name <name>', 'the task id (default prewarm-<5 chars>)')
    .option('--wait', 'follow the task until it finishes (exit 1 when it fails)')
    .option('--timeout <duration>', 'with --wait: give up after this long')
    .option('-o, --output <format>', 'json or yaml')
    .action(async (opts: Flags & CreateFlags) => {
      const format = opts.output === undefined ? undefined : parseOutput(opts.output);
      const task = await headPost<TaskView>(opts, TASKS, createBody(opts));
      if (format === 'json' || format === 'yaml') process.stdout.write(serialize(task, format));
      else process.stdout.write(`imageprewarm.nokube.io/${task.taskId} created\n`);
      if (opts.wait) await follow({ ...opts, namespace: task.namespace }, task.taskId, opts.timeout);
    });

  sub('get <id>', 'show a task: status, progress, failed nodes')
    .option('-o, --output <format>', 'json or yaml')
    .action(async (id: string, opts: Flags) => {
      const format = opts.output === undefined ? undefined : parseOutput(opts.output);
      const { body } = await headGet<TaskView>(opts, taskPath(id, opts));
      if (format === 'json' || format === 'yaml') return void process.stdout.write(serialize(body, format));
      process.stdout.write(describeTask(body));
    });

  sub('list', 'list tasks, newest first')
    .option('-A, --all-namespaces', 'tasks of every namespace')
    .option('--status <s>', 'only tasks in this state: pending, running, completed, failed, cancelled')
    .option('--limit <n>', 'tasks per page (default 20, at most 100)')
    .option('--offset <n>', 'skip this many tasks')
    .option('-o, --output <format>', 'json or yaml')
    .action(
      async (opts: Flags & { allNamespaces?: boolean; status?: string; limit?: string; offset?: string }) => {
        const format = opts.output === undefined ? undefined : parseOutput(opts.output);
        const q = new URLSearchParams();
        if (!opts.allNamespaces) q.set('namespace', opts.namespace ?? 'default');
        if (opts.status) q.set('status', opts.status);
        if (opts.limit) q.set('limit', opts.limit);
        if (opts.offset) q.set('offset', opts.offset);
        const { body } = await headGet<{ items: TaskView[]; total: number; offset: number }>(
          opts,
          `${TASKS}?${q}`,
        );
        if (format === 'json' || format === 'yaml') return void process.stdout.write(serialize(body, format));
        const rows = body.items.map((t) => [
          ...(opts.allNamespaces ? [t.namespace] : []),
          t.taskId,
          t.status,
          t.progress ? `${t.progress.completedNodes + t.progress.failedNodes}/${t.progress.totalNodes}` : '-',
          String(t.progress?.failedNodes ?? 0),
          t.progress ? `${t.progress.currentBatch}/${t.progress.totalBatches}` : '-',
          t.images.join(','),
          t.createdAt ? age(t.createdAt) : '<unknown>',
        ]);
        const headers = ['ID', 'STATUS', 'NODES', 'FAILED', 'BATCH', 'IMAGES', 'AGE'];
        process.stdout.write(table(opts.allNamespaces ? ['NAMESPACE', ...headers] : headers, rows));
        const shown = body.offset + body.items.length;
        if (shown < body.total)
          process.stdout.write(`(${shown} of ${body.total}; --offset ${shown} for more)\n`);
      },
    );

  sub('cancel <id>', 'stop a task: its pulls in flight are stopped, nodes done keep their images').action(
    async (id: string, opts: Flags) => {
      const task = await headDelete<TaskView>(opts, taskPath(id, opts));
      process.stdout.write(`imageprewarm.nokube.io/${task.taskId} cancel requested\n`);
    },
  );

  sub('wait <id>', 'follow a task until it finishes: exit 0 when completed, 1 when failed or cancelled')
    .option('--timeout <duration>', 'give up after this long (exit 1)')
    .action(async (id: string, opts: Flags & { timeout?: string }) => follow(opts, id, opts.timeout));
}

interface CreateFlags {
  image: string[];
  batchSize: string;
  selector?: string;
  maxFailureRatio?: string;
  retries?: string;
  pullTimeout?: string;
  priority?: string;
  imagePullSecret?: string[];
  name?: string;
  wait?: boolean;
  timeout?: string;
}

export function createBody(opts: Flags & CreateFlags): Record<string, unknown> {
  const int = (v: string, flag: string) => {
    if (!/^-?\d{1,9}$/.test(v)) throw new UsageError(`${flag} ${v}: expected a whole number`);
    return Number(v);
  };
  const body: Record<string, unknown> = {
    images: opts.image,
    batchSize: int(opts.batchSize, '--batch-size'),
  };
  if (opts.selector) {
    const pairs = opts.selector.split(',').map((p) => p.split('='));
    if (pairs.some((p) => p.length !== 2 || !p[0]))
      throw new UsageError(`--selector ${opts.selector}: expected k=v,k2=v2`);
    body.nodeSelector = Object.fromEntries(pairs);
  }
  if (opts.maxFailureRatio !== undefined) {
    const r = Number(opts.maxFailureRatio);
    if (!/^\d*\.?\d+$/.test(opts.maxFailureRatio))
      throw new UsageError(`--max-failure-ratio ${opts.maxFailureRatio}: expected a number from 0 to 1`);
    body.maxFailureRatio = r;
  }
  if (opts.retries !== undefined) body.retries = int(opts.retries, '--retries');
  if (opts.pullTimeout !== undefined)
    body.pullTimeoutSeconds = parseDuration(opts.pullTimeout, '--pull-timeout');
  if (opts.priority !== undefined) body.priority = int(opts.priority, '--priority');
  if (opts.imagePullSecret?.length) body.imagePullSecrets = opts.imagePullSecret.map((name) => ({ name }));
  if (opts.name !== undefined) body.name = opts.name;
  if (opts.namespace !== undefined) body.namespace = opts.namespace;
  return body;
}

/** Read the task until it finishes, showing its progress. */
async function follow(opts: Flags, id: string, timeout: string | undefined): Promise<void> {
  const deadline = timeout
    ? Date.now() + parseDuration(timeout, '--timeout') * 1000
    : Number.POSITIVE_INFINITY;
  const tty = process.stdout.isTTY === true;
  let last = '';
  for (;;) {
    const { body: t } = await headGet<TaskView>(opts, taskPath(id, opts));
    const line = progressLine(t);
    if (line !== last) process.stdout.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
    last = line;
    if (t.status === 'completed' || t.status === 'failed' || t.status === 'cancelled') {
      if (tty) process.stdout.write('\n');
      for (const f of t.failedNodeDetails ?? [])
        process.stdout.write(`  failed: ${f.nodeName} ${f.image}: ${f.reason}: ${f.message}\n`);
      if (t.status === 'completed') return;
      throw new PrewarmFailedError(`prewarm task ${t.taskId} ${t.status}: ${t.message ?? ''}`);
    }
    if (Date.now() >= deadline) {
      if (tty) process.stdout.write('\n');
      throw new WaitTimeoutError('timed out waiting for the condition');
    }
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
  }
}

/** `running [########------------] 40% 2/5 nodes (1 failed) batch 2/3 eta 12:01:30`. */
export function progressLine(t: TaskView): string {
  const p = t.progress;
  if (!p) return `${t.status}`;
  const eta = t.status === 'running' && t.estimatedCompletion ? ` eta ${t.estimatedCompletion}` : '';
  const failed = p.failedNodes > 0 ? ` (${p.failedNodes} failed)` : '';
  return `${t.status} ${bar(p.percentage)} ${p.percentage}% ${p.completedNodes + p.failedNodes}/${p.totalNodes} nodes${failed} batch ${p.currentBatch}/${p.totalBatches}${eta}`;
}

export function describeTask(t: TaskView): string {
  const lines: Array<[string, string]> = [
    ['ID', t.taskId],
    ['Namespace', t.namespace],
    ['Status', t.status],
    ...(t.message ? [['Message', t.message] as [string, string]] : []),
    ['Images', t.images.join(', ')],
    [
      'Node-Selector',
      Object.entries(t.nodeSelector ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',') || '<none>',
    ],
    ['Batch Size', String(t.batchSize)],
    ['Max Failure Ratio', String(t.maxFailureRatio)],
    ['Retries', String(t.retries)],
    ['Pull Timeout', `${t.pullTimeoutSeconds}s`],
    ['Priority', String(t.priority)],
    ['Progress', progressLine(t)],
    ['Created', t.createdAt ?? '<unknown>'],
    ...(t.startedAt ? [['Started', t.startedAt] as [string, string]] : []),
    ...(t.finishedAt ? [['Finished', t.finishedAt] as [string, string]] : []),
    ...(t.estimatedCompletion ? [['Estimated Completion', t.estimatedCompletion] as [string, string]] : []),
  ];
  const width = Math.max(...lines.map(([k]) => k.length)) + 2;
  let out = lines.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}\n`).join('');
  if (t.failedNodeDetails?.length)
    out += `Failed Nodes:\n${table(
      ['NODE', 'IMAGE', 'REASON', 'TIME', 'MESSAGE'],
      t.failedNodeDetails.map((f) => [f.nodeName, f.image, f.reason, f.timestamp, f.message]),
    )}`;
  return out;
}
