// Availability through a rolling update, sampled (the real-Docker test and bench/update): every `everyMs`
// one sample of how many replicas exist and how many serve, then a checker over all samples against the
// rollout's limits (ready >= replicas - maxUnavailable, pods <= replicas + maxSurge).
import type { Etcd3 } from 'etcd3';
import { isTerminating } from '../../agent/objects/pod-deletion.ts';
import { listObjects } from '../../agent/objects/store.ts';
import type { Pod } from '../../agent/objects/types.ts';
import type { Docker } from './docker.ts';

export interface Sample {
  /** ms since the sampler started */
  at: number;
  /** Replicas that exist (nokube: pods not Terminating; Swarm: tasks meant to run). */
  pods: number;
  /** Replicas that serve: Ready in etcd with their container running (Swarm: running and healthy). */
  ready: number;
}

/** Every moment that broke a limit, one line each (empty: none did). */
export function judge(samples: readonly Sample[], limits: { floor: number; ceiling?: number }): string[] {
  const out: string[] = [];
  for (const s of samples) {
    const t = `t=${(s.at / 1000).toFixed(1)}s`;
    if (s.ready < limits.floor) out.push(`${t}: ${s.ready} ready < floor ${limits.floor}`);
    if (limits.ceiling !== undefined && s.pods > limits.ceiling)
      out.push(`${t}: ${s.pods} pods > ceiling ${limits.ceiling}`);
  }
  return out;
}

/** Samples `read` every `everyMs` (the next read starts `everyMs` after the previous one started, or at
 * once when a read took longer) until `stop`. */
export function startSampler(read: () => Promise<Omit<Sample, 'at'>>, everyMs = 100) {
  const samples: Sample[] = [];
  const t0 = Date.now();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const began = Date.now();
      samples.push({ at: began - t0, ...(await read()) });
      const wait = everyMs - (Date.now() - began);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    samples,
    async stop(): Promise<Sample[]> {
      stopped = true;
      await loop;
      return samples;
    },
  };
}

/** One sample of a nokube Deployment: Docker first, then etcd (a pod seen Ready and not Terminating in
 * the later read had its container before, so a stop in between is never counted as serving). */
export async function deploymentSample(
  etcd: Etcd3,
  cluster: string,
  name: string,
  docker: Docker,
): Promise<Omit<Sample, 'at'>> {
  const running = new Set(
    (await docker.listContainers({ filters: { label: [`nokube.cluster=${cluster}`] } })).map(
      (c) => c.Labels['nokube.pod'],
    ),
  );
  const pods = (await listObjects(etcd, cluster, 'Pod', 'default'))
    .map((s) => s.object as Pod)
    .filter((p) => p.metadata.ownerReferences?.[0]?.name === name && !isTerminating(p));
  const ready = pods.filter(
    (p) =>
      p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
      running.has(p.metadata.name),
  );
  return { pods: pods.length, ready: ready.length };
}
