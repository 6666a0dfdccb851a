// A Service (v1) as users write it: ClusterIP, NodePort (headless with clusterIP "None") or ExternalName (a
// DNS alias, externalName: no address, no endpoints), ports with a
// numbered or named targetPort, a label selector, ClientIP session affinity. Rules across fields (port
// names, duplicates, nodePort only for NodePort, ...) are k8s' and live in ../service-rules.ts.
import { z } from 'zod';
import { labels } from './names.ts';

const port = z.number().int().min(1).max(65535);

/** k8s' IsValidPortName (IANA service name): what a named targetPort may be. */
function portNameProblem(name: string): string | null {
  if (name.length > 15) return 'must be no more than 15 characters';
  if (!/^[-a-z0-9]+$/.test(name))
    return 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)';
  if (!/[a-z]/.test(name)) return 'must contain at least one letter (a-z)';
  if (name.includes('--')) return 'must not contain consecutive hyphens';
  if (name.startsWith('-') || name.endsWith('-')) return 'must not begin or end with a hyphen';
  return null;
}
const portName = z.string().superRefine((n, c) => {
  const p = portNameProblem(n);
  if (p) c.addIssue({ code: 'custom', message: p });
});

const servicePort = z.strictObject({
  name: z.string().optional(),
  protocol: z.enum(['TCP', 'UDP']).optional(),
  port,
  targetPort: z.union([port, portName]).optional(),
  nodePort: port.optional(),
});

export const serviceSpec = z.strictObject({
  type: z.enum(['ClusterIP', 'NodePort', 'ExternalName']).optional(),
  externalName: z.string().optional(),
  clusterIP: z.string().optional(),
  clusterIPs: z.array(z.string()).optional(),
  ports: z.array(servicePort).optional(),
  selector: labels.optional(),
  sessionAffinity: z.enum(['None', 'ClientIP']).optional(),
  sessionAffinityConfig: z
    .strictObject({
      clientIP: z.strictObject({ timeoutSeconds: z.number().int().optional() }).optional(),
    })
    .optional(),
  publishNotReadyAddresses: z.boolean().optional(),
  ipFamilies: z.array(z.literal('IPv4')).optional(),
  ipFamilyPolicy: z.literal('SingleStack').optional(),
  internalTrafficPolicy: z.literal('Cluster').optional(),
  externalTrafficPolicy: z.literal('Cluster').optional(),
});
