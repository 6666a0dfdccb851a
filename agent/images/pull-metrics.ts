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
