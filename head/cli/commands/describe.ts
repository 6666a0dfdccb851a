// nokube describe <kind> <name> [-n ns]: the object, its status and its events, as kubectl shows them.
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';
import type { KubeEvent } from '../../../agent/objects/events.ts';
import type { KubeObject } from '../../../agent/objects/types.ts';
import { type HeadFlags, headRequest } from '../head-client.ts';
import { headOptions } from '../manifest-files.ts';
import { objectPath, refFor, resolveKind, typeAndName } from '../objects-api.ts';
import { describeText } from '../print/describe.ts';

export function registerDescribe(program: Command): void {
  headOptions(
    program
      .command('describe <kind> [name]')
      .description('show an object in detail with its events')
      .option('-n, --namespace <ns>', 'namespace of the object (default "default")'),
  ).action(async (first: string, second: string | undefined, opts: HeadFlags & { namespace?: string }) => {
    const [kindWord, name] = typeAndName(first, second);
    if (!name) throw new UsageError('usage: nokube describe <kind> <name> (or <kind>/<name>)');
    const path = objectPath(refFor(resolveKind(kindWord), name, opts.namespace));
    const [obj, events] = await Promise.all([
      headRequest<KubeObject>(opts, 'GET', path),
      headRequest<{ items: KubeEvent[] }>(opts, 'GET', `${path}/events`),
    ]);
    process.stdout.write(describeText(obj, events.items));
  });
}
