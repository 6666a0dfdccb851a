// What a Deployment's revision (ReplicaSet) says about itself, for the controller and the CLI alike
// (`rollout history|undo`): the k8s annotation names, its number, its hash, and the template it holds
// as the Deployment had it. Types only: the CLI loads this without the controller's dependencies.
import { POD_TEMPLATE_HASH_LABEL, type PodTemplateSpec, type ReplicaSet } from '../../agent/objects/types.ts';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';

export const revisionNumber = (rs: ReplicaSet): number =>
  Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0) || 0;
export const hashOf = (o: { metadata: { labels?: Record<string, string> } }) =>
  o.metadata.labels?.[POD_TEMPLATE_HASH_LABEL];

/** The template a revision holds, as the Deployment had it (without the hash label): `rollout undo`. */
export function deploymentTemplateOf(rs: ReplicaSet): PodTemplateSpec {
  const template = structuredClone(rs.spec.template);
  const labels = { ...template.metadata?.labels };
  delete labels[POD_TEMPLATE_HASH_LABEL];
  template.metadata = { ...template.metadata, labels };
  return template;
}
