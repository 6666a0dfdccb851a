// PodSpec and its parts: exactly the fields of agent/objects/types.ts. Cross-field rules (duplicate
// names, mounts of unknown volumes, requests <= limits) are in ../validate-rules.ts.
import { isIP } from 'node:net';
import { z } from 'zod';
import { MAX_CONTAINERS_PER_POD } from '../limits.ts';
import { labelKeyProblem } from '../name-rules.ts';
import { parseQuantity } from '../quantity.ts';
import { lifecycleHandler, port, probe } from './handlers.ts';
import { labelSelector, nodeSelectorRequirement, templateMetadata } from './meta.ts';
import { dnsLabel, dnsSubdomain, labels } from './names.ts';

/** A k8s quantity: a string, or a number as YAML gives `cpu: 2` or `cpu: 0.5` (k8s takes both; stored as
 * the string). */
export const quantity = z.preprocess(
  (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? String(v) : v),
  z.string().superRefine((q, c) => {
    try {
      parseQuantity(q);
    } catch (err) {
      c.addIssue({ code: 'custom', message: (err as Error).message });
    }
  }),
);
const resourceList = z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() });

const keyRef = z.strictObject({
  name: dnsSubdomain,
  key: z.string().min(1),
  optional: z.boolean().optional(),
});
export const FIELD_PATHS = ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'status.podIP'];

const envName = z
  .string()
  .regex(
    /^[-._a-zA-Z][-._a-zA-Z0-9]*$/,
    "must start with a letter, '_', '-' or '.' and hold only those and digits",
  );
const envVar = z
  .strictObject({
    name: envName,
    value: z.string().optional(),
    valueFrom: z
      .strictObject({
        configMapKeyRef: keyRef.optional(),
        secretKeyRef: keyRef.optional(),
        fieldRef: z
          .strictObject({
            fieldPath: z.enum(FIELD_PATHS as [string, ...string[]]),
            apiVersion: z.literal('v1').optional(),
          })
          .optional(),
      })
      .superRefine((v, c) => {
        if (Object.keys(v).length !== 1)
          c.addIssue({
            code: 'custom',
            message: 'exactly one of configMapKeyRef, secretKeyRef, fieldRef is required',
          });
      })
      .optional(),
  })
  .superRefine((e, c) => {
    if (e.value !== undefined && e.valueFrom !== undefined)
      c.addIssue({ code: 'custom', path: ['valueFrom'], message: 'may not be set when value is' });
  });

const envFrom = z
  .strictObject({
    prefix: envName.optional(),
    configMapRef: z.strictObject({ name: dnsSubdomain, optional: z.boolean().optional() }).optional(),
    secretRef: z.strictObject({ name: dnsSubdomain, optional: z.boolean().optional() }).optional(),
  })
  .superRefine((e, c) => {
    if ((e.configMapRef === undefined) === (e.secretRef === undefined))
      c.addIssue({ code: 'custom', message: 'exactly one of configMapRef, secretRef is required' });
  });

const absolutePath = z.string().regex(/^\//, 'must be an absolute path');

const id = z.number().int().min(0).max(2_147_483_647);
/** RuntimeDefault or Unconfined (a Localhost profile, a file on the node, is not supported). */
const seccompProfile = z.strictObject({ type: z.enum(['RuntimeDefault', 'Unconfined']) });
/** Linux capability names as k8s writes them (NET_ADMIN; Docker takes them with or without CAP_). */
const capability = z
  .string()
  .regex(/^(ALL|[A-Z][A-Z0-9_]*)$/, 'must be a capability name such as NET_BIND_SERVICE');
const securityContext = z.strictObject({
  runAsUser: id.optional(),
  runAsGroup: id.optional(),
  runAsNonRoot: z.boolean().optional(),
  readOnlyRootFilesystem: z.boolean().optional(),
  allowPrivilegeEscalation: z.boolean().optional(),
  privileged: z.boolean().optional(),
  capabilities: z
    .strictObject({ add: z.array(capability).optional(), drop: z.array(capability).optional() })
    .optional(),
  seccompProfile: seccompProfile.optional(),
});
const podSecurityContext = z.strictObject({
  runAsUser: id.optional(),
  runAsGroup: id.optional(),
  runAsNonRoot: z.boolean().optional(),
  fsGroup: id.optional(),
  supplementalGroups: z.array(id).optional(),
  seccompProfile: seccompProfile.optional(),
});

const container = z.strictObject({
  name: dnsLabel,
  image: z.string().min(1, 'must not be empty'),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  workingDir: absolutePath.optional(),
  env: z.array(envVar).optional(),
  envFrom: z.array(envFrom).optional(),
  ports: z
    .array(
      z.strictObject({
        containerPort: port,
        hostPort: port.optional(),
        name: dnsLabel.optional(),
        protocol: z.enum(['TCP', 'UDP']).optional(),
      }),
    )
    .optional(),
  resources: z
    .strictObject({ limits: resourceList.optional(), requests: resourceList.optional() })
    .optional(),
  volumeMounts: z
    .array(
      z.strictObject({
        name: dnsLabel,
        mountPath: absolutePath,
        readOnly: z.boolean().optional(),
        subPath: z
          .string()
          .refine(
            (p) => !p.startsWith('/') && !p.split('/').includes('..'),
            "must be a relative path without '..'",
          )
          .optional(),
      }),
    )
    .optional(),
  lifecycle: z
    .strictObject({ postStart: lifecycleHandler.optional(), preStop: lifecycleHandler.optional() })
    .optional(),
  livenessProbe: probe.optional(),
  readinessProbe: probe.optional(),
  startupProbe: probe.optional(),
  securityContext: securityContext.optional(),
  terminationMessagePath: absolutePath.optional(),
  terminationMessagePolicy: z.enum(['File', 'FallbackToLogsOnError']).optional(),
});

const mode = z.number().int().min(0).max(0o777);
const keyToPath = z.strictObject({
  key: z.string().min(1),
  path: z
    .string()
    .min(1)
    .refine(
      (p) => !p.startsWith('/') && !p.split('/').includes('..'),
      "must be a relative path without '..'",
    ),
  mode: mode.optional(),
});

const VOLUME_SOURCES = ['configMap', 'secret', 'emptyDir', 'hostPath'] as const;
const volume = z
  .strictObject({
    name: dnsLabel,
    configMap: z
      .strictObject({
        name: dnsSubdomain,
        items: z.array(keyToPath).optional(),
        optional: z.boolean().optional(),
        defaultMode: mode.optional(),
      })
      .optional(),
    secret: z
      .strictObject({
        secretName: dnsSubdomain,
        items: z.array(keyToPath).optional(),
        optional: z.boolean().optional(),
        defaultMode: mode.optional(),
      })
      .optional(),
    emptyDir: z
      .strictObject({ medium: z.enum(['', 'Memory']).optional(), sizeLimit: quantity.optional() })
      .optional(),
    hostPath: z
      .strictObject({
        path: absolutePath,
        type: z.enum(['', 'Directory', 'DirectoryOrCreate', 'File', 'FileOrCreate']).optional(),
      })
      .optional(),
  })
  .superRefine((v, c) => {
    if (VOLUME_SOURCES.filter((s) => v[s] !== undefined).length !== 1)
      c.addIssue({ code: 'custom', message: `exactly one of ${VOLUME_SOURCES.join(', ')} is required` });
  });

/** k8s Toleration, with its validation rules (an empty key needs Exists; Exists takes no value;
 * tolerationSeconds only with NoExecute). */
const toleration = z
  .strictObject({
    key: z.string().max(316).optional(),
    operator: z.enum(['Exists', 'Equal']).optional(),
    value: z.string().max(63).optional(),
    effect: z.enum(['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
    tolerationSeconds: z.number().int().optional(),
  })
  .superRefine((t, c) => {
    if (!t.key && t.operator !== 'Exists')
      c.addIssue({ code: 'custom', message: 'operator must be Exists when key is empty' });
    if (t.operator === 'Exists' && t.value)
      c.addIssue({ code: 'custom', message: 'value must be empty when operator is Exists' });
    if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute')
      c.addIssue({ code: 'custom', message: 'tolerationSeconds is only allowed with effect NoExecute' });
  });

const weight = z.number().int().min(1, 'must be in the range 1-100').max(100, 'must be in the range 1-100');
const topologyKey = z
  .string()
  .min(1, 'can not be empty')
  .superRefine((k, c) => {
    const p = labelKeyProblem(k);
    if (p) c.addIssue({ code: 'custom', message: p });
  });
const podAffinityTerm = z.strictObject({
  labelSelector: labelSelector.optional(),
  namespaces: z.array(dnsLabel).optional(),
  topologyKey,
});
const podAffinity = z.strictObject({
  requiredDuringSchedulingIgnoredDuringExecution: z.array(podAffinityTerm).optional(),
  preferredDuringSchedulingIgnoredDuringExecution: z
    .array(z.strictObject({ weight, podAffinityTerm }))
    .optional(),
});
const topologySpreadConstraint = z.strictObject({
  maxSkew: z.number().int().min(1, 'must be greater than zero'),
  topologyKey,
  whenUnsatisfiable: z.enum(['DoNotSchedule', 'ScheduleAnyway']),
  labelSelector: labelSelector.optional(),
  minDomains: z.number().int().min(1, 'must be greater than zero').optional(),
});

/** Required node affinity (OR'ed terms of AND'ed expressions): pods', and prewarm tasks' nodes. */
export const requiredNodeAffinity = z.strictObject({
  nodeSelectorTerms: z
    .array(z.strictObject({ matchExpressions: z.array(nodeSelectorRequirement).optional() }))
    .min(1, 'at least one term is required'),
});

/** Secrets of the object's namespace with registry credentials (agent/images/registry-auth.ts). */
export const imagePullSecrets = z.array(z.strictObject({ name: dnsSubdomain }));

/** k8s: an init container runs to completion, so it has no probes and no lifecycle hooks (sidecars,
 * init containers with restartPolicy Always, are not supported). */
const notForInit = z
  .unknown()
  .optional()
  .refine((v) => v === undefined, 'must not be set for init containers');
const initContainer = container.extend({
  livenessProbe: notForInit,
  readinessProbe: notForInit,
  startupProbe: notForInit,
  lifecycle: notForInit,
});

const containerCount = (what: string) =>
  ({
    error: (issue: { input?: unknown }) =>
      `${(issue.input as unknown[]).length} ${what}, over the limit of ${MAX_CONTAINERS_PER_POD} per pod`,
  }) as const;

export const podSpec = z.strictObject({
  containers: z
    .array(container)
    .min(1, 'at least one container is required')
    .max(MAX_CONTAINERS_PER_POD, containerCount('containers')),
  initContainers: z
    .array(initContainer)
    .max(MAX_CONTAINERS_PER_POD, containerCount('initContainers'))
    .optional(),
  restartPolicy: z.enum(['Always', 'OnFailure', 'Never']).optional(),
  enableServiceLinks: z.boolean().optional(),
  nodeName: dnsSubdomain.optional(),
  nodeSelector: labels.optional(),
  imagePullSecrets: imagePullSecrets.optional(),
  affinity: z
    .strictObject({
      podAffinity: podAffinity.optional(),
      podAntiAffinity: podAffinity.optional(),
      nodeAffinity: z
        .strictObject({
          requiredDuringSchedulingIgnoredDuringExecution: requiredNodeAffinity.optional(),
          preferredDuringSchedulingIgnoredDuringExecution: z
            .array(
              z.strictObject({
                weight,
                preference: z.strictObject({ matchExpressions: z.array(nodeSelectorRequirement).optional() }),
              }),
            )
            .optional(),
        })
        .optional(),
    })
    .optional(),
  terminationGracePeriodSeconds: z.number().int().min(0).optional(),
  hostNetwork: z.boolean().optional(),
  hostname: dnsLabel.optional(),
  subdomain: dnsLabel.optional(),
  dnsPolicy: z.enum(['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None']).optional(),
  dnsConfig: z
    .strictObject({
      nameservers: z.array(z.string().refine((s) => isIP(s) !== 0, 'must be an IP address')).optional(),
      searches: z.array(z.string()).optional(),
      options: z.array(z.strictObject({ name: z.string(), value: z.string().optional() })).optional(),
    })
    .optional(),
  volumes: z.array(volume).optional(),
  tolerations: z.array(toleration).optional(),
  topologySpreadConstraints: z.array(topologySpreadConstraint).optional(),
  priorityClassName: dnsSubdomain.optional(),
  securityContext: podSecurityContext.optional(),
  schedulerName: z
    .string()
    .refine((v) => v === 'default-scheduler', 'must be "default-scheduler" (nokube has one scheduler)')
    .optional(),
});

export const podTemplate = z.strictObject({
  metadata: templateMetadata.optional(),
  spec: podSpec,
});
