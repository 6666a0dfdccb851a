// nokube scale deployment/<name> --replicas N and nokube set image deployment/<name> <container>=<image>...:
// kubectl's, as a read-modify-write of the Deployment through the head (rollout/deployment-write.ts: ACL
// `update` on deployments). A new image is a new template: the Deployment rolls out by its strategy.
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';
import { headOptions } from '../manifest-files.ts';
import { deploymentPath, type TargetFlags, updateDeployment } from '../rollout/deployment-write.ts';

export function registerScale(program: Command): void {
  headOptions(
    program
      .command('scale <target> [name]')
      .description('set the number of replicas of a Deployment')
      .requiredOption('--replicas <n>', 'the new number of replicas')
      .option('-n, --namespace <ns>', 'namespace of the Deployment (default "default")'),
  ).action(async (first: string, second: string | undefined, opts: TargetFlags & { replicas: string }) => {
    if (!/^\d{1,9}$/.test(opts.replicas))
      throw new UsageError(`--replicas ${opts.replicas}: expected a whole number (0 or more)`);
    const replicas = Number(opts.replicas);
    const r = await updateDeployment(opts, deploymentPath(first, second, opts), 'scale', (d) => {
      d.spec.replicas = replicas;
      return d;
    });
    process.stdout.write(`${'skip' in r ? r.skip : `deployment.apps/${r.name} scaled`}\n`);
  });
}

/** `name=image` pairs; `*=image` sets every container. */
export function parseImages(pairs: string[]): Array<[string, string]> {
  if (pairs.length === 0) throw new UsageError('at least one <container>=<image> is required');
  return pairs.map((p) => {
    const i = p.indexOf('=');
    if (i <= 0 || i === p.length - 1) throw new UsageError(`"${p}": expected <container>=<image>`);
    return [p.slice(0, i), p.slice(i + 1)];
  });
}

export function registerSetImage(program: Command): void {
  const set = program.command('set').description('change one field of a Deployment (image)');
  headOptions(
    set
      .command('image <target> <pairs...>')
      .usage('deployment/<name> <container>=<image> [<container>=<image>...]')
      .description("set the image of containers of a Deployment's pod template (a rolling update)")
      .option('-n, --namespace <ns>', 'namespace of the Deployment (default "default")'),
  ).action(async (target: string, pairs: string[], opts: TargetFlags) => {
    // kubectl also takes `deployment web c=img`: a first pair without "=" is the name.
    const [name, rest] =
      !target.includes('/') && pairs[0] && !pairs[0].includes('=')
        ? [pairs[0], pairs.slice(1)]
        : [undefined, pairs];
    const images = parseImages(rest);
    const r = await updateDeployment(opts, deploymentPath(target, name, opts), 'set image', (d) => {
      const containers = d.spec.template.spec.containers;
      for (const [container, image] of images) {
        const hits = container === '*' ? containers : containers.filter((c) => c.name === container);
        if (hits.length === 0) return { refuse: `unable to find container named "${container}"` };
        for (const c of hits) c.image = image;
      }
      return d;
    });
    process.stdout.write(`${'skip' in r ? r.skip : `deployment.apps/${r.name} image updated`}\n`);
  });
}
