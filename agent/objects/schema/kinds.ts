// One strict schema per kind: the manifest as users write it (metadata without server-set fields;
// status is stripped before validation, as kubectl ignores it).
import { z } from 'zod';
import type { Kind } from '../types.ts';
import { labelSelector, metadata, namespaceMetadata } from './meta.ts';
import { dataKey } from './names.ts';
import { podSpec, podTemplate } from './pod-spec.ts';

// apiVersion is checked against the kind before the schema runs (validate.ts).
const head = <K extends Kind>(kind: K) => ({
  apiVersion: z.unknown().optional(),
  kind: z.literal(kind),
  metadata: kind === 'Namespace' ? namespaceMetadata : metadata,
});
const count = z.number().int().min(0);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const base64 = z.string().regex(BASE64, 'must be base64 (as in k8s; use stringData for plain text)');

export const KIND_SCHEMAS: Record<Kind, z.ZodType> = {
  Namespace: z.strictObject(head('Namespace')),
  ConfigMap: z.strictObject({
    ...head('ConfigMap'),
    data: z.record(dataKey, z.string()).optional(),
    binaryData: z.record(dataKey, base64).optional(),
    immutable: z.boolean().optional(),
  }),
  Secret: z.strictObject({
    ...head('Secret'),
    type: z.string().min(1).optional(),
    data: z.record(dataKey, base64).optional(),
    stringData: z.record(dataKey, z.string()).optional(),
    immutable: z.boolean().optional(),
  }),
  Pod: z.strictObject({ ...head('Pod'), spec: podSpec }),
  Deployment: z.strictObject({
    ...head('Deployment'),
    spec: z.strictObject({
      replicas: count.optional(),
      selector: labelSelector,
      template: podTemplate,
      strategy: z.strictObject({ type: z.enum(['RollingUpdate', 'Recreate']) }).optional(),
      minReadySeconds: count.optional(),
      revisionHistoryLimit: count.optional(),
    }),
  }),
  DaemonSet: z.strictObject({
    ...head('DaemonSet'),
    spec: z.strictObject({ selector: labelSelector, template: podTemplate }),
  }),
  Job: z.strictObject({
    ...head('Job'),
    spec: z.strictObject({
      completions: z.number().int().min(1).optional(),
      parallelism: count.optional(),
      backoffLimit: count.optional(),
      activeDeadlineSeconds: z.number().int().min(1).optional(),
      selector: labelSelector.optional(),
      template: podTemplate,
    }),
  }),
};
