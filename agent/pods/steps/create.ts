// Step "create": the Docker container of one pod container, labelled with who owns it. What decides a
// re-create is the spec hash: the container spec and its mounts, not the resolved env (env is read when
// the container is made; a ConfigMap edit must not restart every replica at once).
import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import { parseCpu, parseMemory } from '../../objects/quantity.ts';
import type { Container, Pod } from '../../objects/types.ts';
import { LABEL } from '../../runtime/labels.ts';
import { dockerUser, effectiveSecurity, nonRootProblem, securityHostConfig } from '../security.ts';
import { type ContainerRun, errorText, note, Waiting, warn } from './run.ts';

export interface CreateInput {
  env: string[];
  binds: string[];
  hash: string;
  cluster: string;
  node: string;
  /** The container's ownership path (`<pod path>/container-<name>`). */
  owner: string;
  /** `host`, or `container:<sandbox id>` on the pod network. */
  networkMode: string;
}

export async function createStep(run: ContainerRun, input: CreateInput): Promise<undefined | Waiting> {
  const sc = effectiveSecurity(run.pod, run.c);
  if (sc?.runAsNonRoot) {
    const image = await run.deps.docker
      .getImage(run.c.image)
      .inspect()
      .catch(() => undefined);
    const problem = nonRootProblem(sc, image?.Config?.User ?? '');
    if (problem) {
      const message = `${problem} (pod: "${run.pod.metadata.name}_${run.pod.metadata.namespace ?? 'default'}", container: ${run.c.name})`;
      warn(run, 'Failed', `Error: ${message}`);
      return new Waiting('CreateContainerConfigError', message);
    }
  }
  try {
    await run.deps.docker.createContainer(createOptions(run, input));
  } catch (err) {
    const message = errorText(err);
    warn(run, 'Failed', `Error: failed to create container "${run.c.name}": ${message}`);
    return new Waiting('CreateContainerError', message);
  }
  note(run, 'Created', `Created container ${run.c.name}`);
  return undefined;
}

function createOptions(run: ContainerRun, input: CreateInput): Docker.ContainerCreateOptions {
  const { c, pod } = run;
  const sc = effectiveSecurity(pod, c);
  const limits = c.resources?.limits;
  const opts: Docker.ContainerCreateOptions = {
    name: run.name,
    Image: c.image,
    Env: input.env,
    Labels: {
      [LABEL.cluster]: input.cluster,
      [LABEL.node]: input.node,
      [LABEL.namespace]: pod.metadata.namespace ?? 'default',
      [LABEL.pod]: pod.metadata.name,
      [LABEL.podUid]: pod.metadata.uid,
      [LABEL.container]: c.name,
      [LABEL.ownerPath]: input.owner,
      [LABEL.specHash]: input.hash,
    },
    HostConfig: {
      NetworkMode: input.networkMode,
      Binds: input.binds,
      RestartPolicy: { Name: 'no' },
      ...(limits?.cpu ? { NanoCpus: Math.round(parseCpu(limits.cpu) * 1e9) } : {}),
      ...(limits?.memory ? { Memory: parseMemory(limits.memory) } : {}),
      ...securityHostConfig(sc),
    },
  };
  const user = dockerUser(sc);
  if (user) opts.User = user;
  // k8s: command replaces the image's ENTRYPOINT, args replace its CMD.
  if (c.command) opts.Entrypoint = c.command;
  if (c.args) opts.Cmd = c.args;
  else if (c.command) opts.Cmd = [];
  if (c.workingDir) opts.WorkingDir = c.workingDir;
  return opts;
}

/** What decides whether a container must be re-created: its spec (with the pod's security defaults,
 * when there are any) and its mounts. */
export function specHash(c: Container, binds: string[], pod?: Pod): string {
  const sc = pod ? effectiveSecurity(pod, c) : c.securityContext;
  const spec = sc ? { ...c, securityContext: sc } : c;
  return digest({ c: { ...spec, resources: c.resources ?? null }, binds });
}

/** The hash of agents before env left it (spec, resolved env, mounts): a container made by one of them
 * whose env still resolves the same is adopted, so an agent upgrade restarts nothing. */
export function legacySpecHash(c: Container, env: string[], binds: string[]): string {
  return digest({ c: { ...c, resources: c.resources ?? null }, env, binds });
}

const digest = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);
