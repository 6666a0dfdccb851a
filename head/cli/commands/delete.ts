// nokube delete -f <file|dir|-> | nokube delete <kind> <name>... [-n ns] [--ignore-not-found]
// [--grace-period=N] [--force] [--now] [--wait=false] [--timeout=D]: each object is deleted by the head in its own
// transaction (with its status); a pod bound to a node is deleted gracefully (Terminating until its agent
// has stopped it; kubectl's flags and rules for the grace), pods of a controller go by cascade, a
// Namespace takes its objects along. As kubectl, it waits until the deleted pods are gone (--wait).
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';
import type { DeleteResult } from '../../../agent/objects/apply.ts';
import type { ObjectRef } from '../../../agent/objects/store.ts';
import type { KubeObject } from '../../../agent/objects/types.ts';
import { HeadError, type HeadFlags, headDelete, headGet } from '../head-client.ts';
import { collect, headOptions, readManifestFiles } from '../manifest-files.ts';
import { objectPath, query, refFor, resolveKind, typeNames } from '../objects-api.ts';
import { parseDuration } from './pod-stream.ts';

interface DeleteFlags extends HeadFlags {
  filename: string[];
  namespace?: string;
  ignoreNotFound: boolean;
  dryRun: boolean;
  gracePeriod: string;
  force: boolean;
  now: boolean;
  wait: boolean;
  timeout: string;
}

/** kubectl's warning for --force --grace-period=0. */
export const FORCE_WARNING =
  'Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.';

/** The grace to send (undefined: the pod's own), by kubectl's rules (delete.go Complete/Validate). */
export function graceOf(opts: { gracePeriod: string; force: boolean; now: boolean }): number | undefined {
  if (!/^-?\d+$/.test(opts.gracePeriod))
    throw new UsageError(`--grace-period must be a whole number of seconds, got "${opts.gracePeriod}"`);
  let grace = Number(opts.gracePeriod);
  if (opts.now) {
    if (grace !== -1) throw new UsageError('--now and --grace-period cannot be specified together');
    grace = 1;
  }
  // kubectl: 0 without --force becomes 1 (no accidental force); --force alone means 0.
  if (grace === 0 && !opts.force) grace = 1;
  if (opts.force && grace < 0) grace = 0;
  if (opts.force && grace > 0)
    throw new UsageError('--force and --grace-period greater than 0 cannot be specified together');
  return grace < 0 ? undefined : grace;
}

const parseBool = (v: string): boolean => {
  if (v !== 'true' && v !== 'false') throw new UsageError(`expected true or false, got "${v}"`);
  return v === 'true';
};

/** How often `--wait` asks whether a deleted pod is gone. */
const WAIT_POLL_MS = 250;

export function registerDelete(program: Command): void {
  headOptions(
    program
      .command('delete [kind] [names...]')
      .description('delete objects named on the command line or in manifests')
      .option('-f, --filename <path>', 'file, directory or - for stdin; repeatable', collect, [])
      .option('-n, --namespace <ns>', 'namespace of the objects (default "default")')
      .option('--ignore-not-found', 'a missing object is not an error', false)
      .option('--dry-run', 'show what would be deleted; delete nothing', false)
      .option(
        '--grace-period <seconds>',
        "seconds a pod gets to stop (negative: the pod's terminationGracePeriodSeconds); 0 only with --force",
        '-1',
      )
      .option(
        '--force',
        'with --grace-period=0 (implied): remove at once, without waiting for the node',
        false,
      )
      .option('--now', 'signal for immediate shutdown (same as --grace-period=1)', false)
      .option(
        '--wait [bool]',
        'wait until the deleted pods are gone (--wait=false returns at once)',
        parseBool,
        true,
      )
      .option(
        '--timeout <duration>',
        'give up waiting after this long (30s, 5m; 0: wait until the pods are gone)',
        '0s',
      ),
  ).action(async (kindWord: string | undefined, names: string[], opts: DeleteFlags) => {
    let refs: ObjectRef[];
    if (opts.filename.length > 0) {
      if (kindWord) throw new UsageError('give either -f or <kind> <name>, not both');
      refs = (await readManifestFiles(opts.filename)).manifests.map((m) =>
        refFor(m.object.kind, m.object.metadata.name, m.object.metadata.namespace),
      );
    } else {
      if (kindWord?.includes('/')) {
        refs = typeNames([kindWord, ...names]).map(([t, n]) => refFor(resolveKind(t), n, opts.namespace));
      } else {
        if (!kindWord || names.length === 0)
          throw new UsageError('usage: nokube delete <kind> <name>..., <kind>/<name>... or -f <file>');
        const kind = resolveKind(kindWord);
        refs = names.map((n) => refFor(kind, n, opts.namespace));
      }
    }
    const grace = graceOf(opts);
    const timeoutMs =
      opts.timeout === '0' || opts.timeout === '0s' ? 0 : parseDuration(opts.timeout, '--timeout') * 1000;
    if (grace === 0) process.stderr.write(`${FORCE_WARNING}\n`);
    const errors: string[] = [];
    const terminating: DeleteResult[] = [];
    for (const ref of refs) {
      const q = query({
        ignoreNotFound: opts.ignoreNotFound && 'true',
        dryRun: opts.dryRun && 'true',
        gracePeriodSeconds: grace === undefined ? undefined : String(grace),
      });
      try {
        const r = await headDelete<DeleteResult>(opts, `${objectPath(ref)}${q}`);
        if (r.deleted) process.stdout.write(`${r.text}\n`);
        if (r.deleted && r.terminatingUid && !opts.dryRun) terminating.push(r);
      } catch (err) {
        if (!(err instanceof HeadError)) throw err;
        errors.push(err.message);
      }
    }
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY;
    if (opts.wait) for (const r of terminating) await waitGone(opts, r.ref, r.terminatingUid!, deadline);
    if (errors.length > 0) throw new HeadError(404, errors.join('\n'));
  });
}

/** Until the pod of that uid is gone (kubectl delete --wait): its agent has stopped it; past `deadline`,
 * kubectl's error (the pod is left Terminating: its agent still stops it). */
export async function waitGone(
  flags: HeadFlags,
  ref: ObjectRef,
  uid: string,
  deadline: number,
): Promise<void> {
  for (;;) {
    try {
      const { body } = await headGet<KubeObject>(flags, objectPath(ref));
      if (body.metadata.uid !== uid) return;
    } catch (err) {
      if (err instanceof HeadError && err.status === 404) return;
      throw err;
    }
    if (Date.now() >= deadline)
      throw new WaitTimeoutError(`timed out waiting for the condition on pods/${ref.name}`);
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
  }
}

export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}
