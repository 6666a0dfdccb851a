// metadata and label selectors, shared by every kind.
import { z } from 'zod';
import { labelKeyProblem } from '../name-rules.ts';
import { annotations, dnsLabel, dnsSubdomain, labels } from './names.ts';

/**
 * Owner references are set by nokube's controllers; a manifest may carry them (the output of `get -o
 * yaml` applies back) but not change them: apply checks they equal the stored ones.
 */
const ownerReference = z.strictObject({
  apiVersion: z.string().min(1),
  kind: z.string().min(1),
  name: z.string().min(1),
  uid: z.string().min(1),
  controller: z.boolean().optional(),
  blockOwnerDeletion: z.boolean().optional(),
});

/** What users write under metadata (server-set fields are stripped before validation). */
export const metadata = z.strictObject({
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
  labels: labels.optional(),
  annotations: annotations.optional(),
  ownerReferences: z.array(ownerReference).optional(),
});

/** A cluster-wide object (PriorityClass): no namespace. */
export const clusterMetadata = metadata.omit({ namespace: true });

/** A Namespace's name is an RFC 1123 label (as `metadata.namespace` must be), not a subdomain. */
export const namespaceMetadata = metadata.extend({ name: dnsLabel });

const LABEL_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
/** Node selector requirements (node affinity) also take Gt and Lt (k8s): one value, an integer. */
const NODE_OPERATORS = [...LABEL_OPERATORS, 'Gt', 'Lt'] as const;

function requirementOf<const Ops extends readonly [string, ...string[]]>(operators: Ops) {
  return z
    .strictObject({
      key: z.string().superRefine((k, c) => {
        const p = labelKeyProblem(k);
        if (p) c.addIssue({ code: 'custom', message: p });
      }),
      operator: z.enum(operators),
      values: z.array(z.string()).optional(),
    })
    .superRefine((r, c) => {
      const op: string = r.operator;
      const needs = op === 'In' || op === 'NotIn';
      if (needs && (r.values?.length ?? 0) === 0)
        c.addIssue({
          code: 'custom',
          path: ['values'],
          message: `must be non-empty for operator ${op}`,
        });
      if ((op === 'Gt' || op === 'Lt') && (r.values?.length !== 1 || !/^-?\d+$/.test(r.values[0]!)))
        c.addIssue({ code: 'custom', path: ['values'], message: `must be one integer for operator ${op}` });
      if ((op === 'Exists' || op === 'DoesNotExist') && r.values !== undefined && r.values.length > 0)
        c.addIssue({ code: 'custom', path: ['values'], message: `must be empty for operator ${op}` });
    });
}
export const labelSelectorRequirement = requirementOf(LABEL_OPERATORS);
export const nodeSelectorRequirement = requirementOf(NODE_OPERATORS);

export const labelSelector = z.strictObject({
  matchLabels: labels.optional(),
  matchExpressions: z.array(labelSelectorRequirement).optional(),
});

export const templateMetadata = z.strictObject({
  labels: labels.optional(),
  annotations: annotations.optional(),
});
