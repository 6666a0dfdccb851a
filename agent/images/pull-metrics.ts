// What an agent's image puller did since start, for /metrics and the dashboards:
// `nokube_image_pulls_total{image, result}` with result `pulled` (fetched from a registry), `present` (held
// already: nothing fetched), `failed` (an attempt that failed) or `stopped` (no request asked any more).
import { Counter, type Registry } from 'prom-client';

export const IMAGE_PULLS_METRIC = 'nokube_image_pulls_total';
export type PullResult = 'pulled' | 'present' | 'failed' | 'stopped';

export function imagePullCounter(registry: Registry): (image: string, result: PullResult) => void {
  registry.removeSingleMetric(IMAGE_PULLS_METRIC);
  const counter = new Counter({
    name: IMAGE_PULLS_METRIC,
    help: 'Image pull attempts for pre-pull and prewarm requests since the agent started, by image and result (pulled: fetched from a registry; present: held already; failed; stopped: no request asked for it any more).',
    labelNames: ['image', 'result'],
    registers: [registry],
  });
  return (image, result) => counter.inc({ image, result });
}

export const IMAGE_FETCHES_METRIC = 'nokube_image_fetches_total';
export const PEER_BYTES_METRIC = 'nokube_image_peer_bytes_total';

/** Images this agent brought in, by where from; bytes moved to and from peers. */
export function imageFetchCounters(registry: Registry) {
  registry.removeSingleMetric(IMAGE_FETCHES_METRIC);
  registry.removeSingleMetric(PEER_BYTES_METRIC);
  const fetches = new Counter({
    name: IMAGE_FETCHES_METRIC,
    help: 'Images this agent fetched since start, by source: peer (another node of its site, over the mesh) or registry (over the uplink).',
    labelNames: ['source'],
    registers: [registry],
  });
  const bytes = new Counter({
    name: PEER_BYTES_METRIC,
    help: 'Image bytes this agent sent to peers (out) and received from them (in) since start.',
    labelNames: ['direction'],
    registers: [registry],
  });
  // Every series from the start (0): a dashboard's ratio has both sides before the first fetch.
  for (const source of ['peer', 'registry']) fetches.inc({ source }, 0);
  for (const direction of ['in', 'out']) bytes.inc({ direction }, 0);
  return {
    fetched: (source: 'peer' | 'registry') => fetches.inc({ source }),
    sent: (n: number) => bytes.inc({ direction: 'out' }, n),
    received: (n: number) => bytes.inc({ direction: 'in' }, n),
  };
}
