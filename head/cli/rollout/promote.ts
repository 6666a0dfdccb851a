// `rollout promote`: the Deployment's canaries (nokube.io/canary) may give way to the rolling update.
// The promotion names the revision of the current template (nokube.io/canary-promoted-revision),
// written by the read-modify-write of deployment-write.ts (only over the Deployment as read: a template
// changed meanwhile is read again, and its own revision promoted). The controller records it on the
// revision's record and goes on.
import {
  CANARY_ANNOTATION,
  FULLY_AVAILABLE_ANNOTATION,
  PROMOTE_ANNOTATION,
  PROMOTED_AT_ANNOTATION,
} from '../../../agent/objects/rollout-annotations.ts';
import type { Deployment } from '../../../agent/objects/types.ts';
import { templateHash } from '../../controllers/pod-template.ts';
import { hashOf, revisionNumber } from '../../controllers/revision-meta.ts';
import type { HeadFlags } from '../head-client.ts';
import { type Change, named, slashed } from './deployment-write.ts';
import { revisionsOf } from './history.ts';

export async function promotion(opts: HeadFlags, d: Deployment): Promise<Change> {
  if (d.metadata.annotations?.[CANARY_ANNOTATION] === undefined)
    return { refuse: `${named(d)} has no canary step (annotation ${CANARY_ANNOTATION})` };
  const hash = templateHash(d.spec.template);
  const rs = (await revisionsOf(opts, d)).find((r) => hashOf(r) === hash);
  if (!rs)
    return {
      refuse: `${named(d)}: the revision of its current template is not recorded yet (the controller has not seen it); try again`,
    };
  const n = revisionNumber(rs);
  const marks = rs.metadata.annotations ?? {};
  if (marks[FULLY_AVAILABLE_ANNOTATION] !== undefined)
    return { skip: `${slashed(d)} revision ${n} is rolled out already: nothing to promote` };
  if (marks[PROMOTED_AT_ANNOTATION] !== undefined)
    return { skip: `${slashed(d)} revision ${n} is promoted already` };
  if (d.metadata.annotations?.[PROMOTE_ANNOTATION] === String(n))
    return { skip: `${slashed(d)} revision ${n} is promoted already` };
  d.metadata.annotations = { ...d.metadata.annotations, [PROMOTE_ANNOTATION]: String(n) };
  return d;
}
