// One strict schema per kind: the manifest as users write it (metadata without server-set fields;
// status is stripped before validation, as kubectl ignores it).
import { z } from 'zod';
import { MAX_REQUESTED_IMAGES } from '../../images/pull-requests.ts';
import { scheduleProblem, timeZoneProblem } from '../cron-schedule.ts';
import type { Kind } from '../types.ts';
import { clusterMetadata, labelSelector, metadata, namespaceMetadata, templateMetadata } from './meta.ts';
import { dataKey, labels } from './names.ts';
import { imagePullSecrets, podSpec, podTemplate, quantity, requiredNodeAffinity } from './pod-spec.ts';
import { serviceSpec } from './service.ts';

// apiVersion is checked against the kind before the schema runs (validate.ts).
const head = <K extends Kind>(kind: K) => ({
  apiVersion: z.unknown().optional(),
  kind: z.literal(kind),
  metadata: kind === 'Namespace' ? namespaceMetadata : kind === 'PriorityClass' ? clusterMetadata : metadata,
});
const count = z.number().int().min(0);
/** A count or a whole percentage ("25%"), as k8s' IntOrString for maxSurge / maxUnavailable. */
const intOrPercent = z.union([
  count,
  z.string().regex(/^(0|[1-9]\d{0,2})%$/, 'must be a number or a whole percentage such as "25%"'),
]);
/** A PodDisruptionBudget's minAvailable / maxUnavailable: a count or a whole percentage up to 100%. */
const budget = z.union([
  count,
  z.string().regex(/^(100|[1-9]?\d)%$/, 'must be a number or a whole percentage from "0%" to "100%"'),
]);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const base64 = z.string().regex(BASE64, 'must be base64 (as in k8s; use stringData for plain text)');

const resourceList = z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() });
const QUOTA_KEY =
  /^(requests\.cpu|requests\.memory|limits\.cpu|limits\.memory|cpu|memory|pods|count\/[a-z0-9.]+)$/;

const jobSpec = z.strictObject({
  completions: z.number().int().min(1).optional(),
  parallelism: count.optional(),
  backoffLimit: count.optional(),
  activeDeadlineSeconds: z.number().int().min(1).optional(),
  ttlSecondsAfterFinished: count.optional(),
  selector: labelSelector.optional(),
  template: podTemplate,
});

export const KIND_SCHEMAS: Record<Kind, z.ZodType> = {
  ResourceQuota: z.strictObject({
    ...head('ResourceQuota'),
    spec: z.strictObject({
      hard: z.record(
        z
          .string()
          .regex(
            QUOTA_KEY,
            'must be requests.cpu, requests.memory, limits.cpu, limits.memory, cpu, memory, pods or count/<resource>',
          ),
        quantity,
      ),
    }),
  }),
  LimitRange: z.strictObject({
    ...head('LimitRange'),
    spec: z.strictObject({
      limits: z
        .array(
          z.strictObject({
            type: z.literal('Container', { error: 'only type Container is supported' }),
            default: resourceList.optional(),
            defaultRequest: resourceList.optional(),
            min: resourceList.optional(),
            max: resourceList.optional(),
          }),
        )
        .min(1, 'at least one limit is required'),
    }),
  }),
  Namespace: z.strictObject(head('Namespace')),
  // k8s: values above one billion are for the system's own classes (system-node-critical, ...).
  PriorityClass: z.strictObject({
    ...head('PriorityClass'),
    value: z
      .number()
      .int()
      .min(-2_147_483_648, 'must be a 32-bit integer')
      .max(1_000_000_000, 'must be no greater than 1000000000 (higher values are reserved for the system)'),
    globalDefault: z.boolean().optional(),
    preemptionPolicy: z.enum(['PreemptLowerPriority', 'Never']).optional(),
    description: z.string().max(10_000).optional(),
  }),
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
      strategy: z
        .strictObject({
          type: z.enum(['RollingUpdate', 'Recreate']),
          rollingUpdate: z
            .strictObject({ maxSurge: intOrPercent.optional(), maxUnavailable: intOrPercent.optional() })
            .optional(),
        })
        .optional(),
      minReadySeconds: count.optional(),
      revisionHistoryLimit: count.optional(),
      progressDeadlineSeconds: z.number().int().min(1).optional(),
      paused: z.boolean().optional(),
    }),
  }),
  // Made by a Deployment's controller only (validate.ts refuses it in a manifest first).
  ReplicaSet: z.never(),
  DaemonSet: z.strictObject({
    ...head('DaemonSet'),
    spec: z.strictObject({
      selector: labelSelector,
      template: podTemplate,
      updateStrategy: z
        .strictObject({
          type: z.enum(['RollingUpdate', 'OnDelete']),
          rollingUpdate: z
            .strictObject({ maxUnavailable: intOrPercent.optional(), maxSurge: intOrPercent.optional() })
            .optional(),
        })
        .optional(),
      minReadySeconds: count.optional(),
    }),
  }),
  Job: z.strictObject({ ...head('Job'), spec: jobSpec }),
  CronJob: z.strictObject({
    ...head('CronJob'),
    spec: z.strictObject({
      schedule: z.string().superRefine((v, c) => {
        const problem = scheduleProblem(v);
        if (problem) c.addIssue({ code: 'custom', message: problem });
      }),
      timeZone: z
        .string()
        .superRefine((v, c) => {
          const problem = timeZoneProblem(v);
          if (problem) c.addIssue({ code: 'custom', message: problem });
        })
        .optional(),
      concurrencyPolicy: z.enum(['Allow', 'Forbid', 'Replace']).optional(),
      startingDeadlineSeconds: count.optional(),
      suspend: z.boolean().optional(),
      successfulJobsHistoryLimit: count.optional(),
      failedJobsHistoryLimit: count.optional(),
      jobTemplate: z.strictObject({ metadata: templateMetadata.optional(), spec: jobSpec }),
    }),
  }),
  Service: z.strictObject({ ...head('Service'), spec: serviceSpec }),
  ImagePrewarm: z.strictObject({
    ...head('ImagePrewarm'),
    spec: z.strictObject({
      images: z
        .array(z.string().regex(/^\S+$/, 'must be an image reference (no spaces)'))
        .min(1, 'at least one image is required')
        .max(MAX_REQUESTED_IMAGES, `at most ${MAX_REQUESTED_IMAGES} images`)
        .refine((a) => new Set(a).size === a.length, 'an image is named twice'),
      nodeSelector: labels.optional(),
      affinity: z
        .strictObject({
          nodeAffinity: z
            .strictObject({
              requiredDuringSchedulingIgnoredDuringExecution: requiredNodeAffinity.optional(),
            })
            .optional(),
        })
        .optional(),
      batchSize: z.number().int().min(1).max(1000),
      maxFailureRatio: z.number().min(0).max(1).optional(),
      retries: z.number().int().min(0).max(10).optional(),
      pullTimeoutSeconds: z.number().int().min(1).max(86_400).optional(),
      priority: z.number().int().min(-1000).max(1000).optional(),
      imagePullSecrets: imagePullSecrets.optional(),
      cancel: z.boolean().optional(),
    }),
  }),
  // Made by the EndpointSlice controller only (validate.ts refuses it in a manifest first).
  EndpointSlice: z.never(),
  PodDisruptionBudget: z.strictObject({
    ...head('PodDisruptionBudget'),
    spec: z
      .strictObject({
        minAvailable: budget.optional(),
        maxUnavailable: budget.optional(),
        selector: labelSelector.optional(),
        unhealthyPodEvictionPolicy: z.enum(['IfHealthyBudget', 'AlwaysAllow']).optional(),
      })
      .refine(
        (s) => s.minAvailable === undefined || s.maxUnavailable === undefined,
        'minAvailable and maxUnavailable cannot be both set',
      ),
  }),
};
