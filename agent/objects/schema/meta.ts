// metadata and label selectors, shared by every kind.
import { z } from 'zod';
import { annotations, dnsLabel, dnsSubdomain, labelKeyProblem, labels } from './names.ts';

/** What users write under metadata (server-set fields are stripped before validation). */
export const metadata = z.strictObject({
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
  labels: labels.optional(),
  annotations: annotations.optional(),
});

/** A Namespace's name is an RFC 1123 label (as `metadata.namespace` must be), not a subdomain. */
export const namespaceMetadata = metadata.extend({ name: dnsLabel });

const requirement = z
  .strictObject({
    key: z.string().superRefine((k, c) => {
      const p = labelKeyProblem(k);
      if (p) c.addIssue({ code: 'custom', message: p });
    }),
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
    values: z.array(z.string()).optional(),
  })
  .superRefine((r, c) => {
    const needs = r.operator === 'In' || r.operator === 'NotIn';
    if (needs && (r.values?.length ?? 0) === 0)
      c.addIssue({
        code: 'custom',
        path: ['values'],
        message: `must be non-empty for operator ${r.operator}`,
      });
    if (!needs && r.values !== undefined && r.values.length > 0)
      c.addIssue({ code: 'custom', path: ['values'], message: `must be empty for operator ${r.operator}` });
  });
export const labelSelectorRequirement = requirement;

export const labelSelector = z.strictObject({
  matchLabels: labels.optional(),
  matchExpressions: z.array(requirement).optional(),
});

export const templateMetadata = z.strictObject({
  labels: labels.optional(),
  annotations: annotations.optional(),
});
