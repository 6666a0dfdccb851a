// A Deployment's revisions as the head lists them (ReplicaSets owned by it), oldest first.
import type { Deployment, ReplicaSet } from '../../../agent/objects/types.ts';
import { revisionNumber } from '../../controllers/revision-meta.ts';
import { type HeadFlags, headGet } from '../head-client.ts';
import { query } from '../objects-api.ts';

export async function revisionsOf(opts: HeadFlags, d: Deployment): Promise<ReplicaSet[]> {
  const q = query({ namespace: d.metadata.namespace });
  const { body } = await headGet<{ items: ReplicaSet[] }>(opts, `/api/v1/objects/replicasets${q}`);
  return body.items
    .filter((rs) => rs.metadata.ownerReferences?.some((o) => o.controller && o.uid === d.metadata.uid))
    .sort((a, b) => revisionNumber(a) - revisionNumber(b));
}
