// What the agent runs against a container: lifecycle hooks (postStart, preStop) and probes (liveness,
// readiness, startup), as k8s' LifecycleHandler and Probe. Rules that need the whole container (a named
// port must be one of its ports; liveness and startup succeed once) are in ../validate-rules.ts.
import { z } from 'zod';
import { dnsLabel } from './names.ts';

export const port = z.number().int().min(1).max(65535);
/** A port number, or the name of one of the container's ports. */
const portOrName = z.union([port, dnsLabel]);
/** RFC 9110 token: what Node (and Go's net/http) accept as a header name. */
const headerName = z
  .string()
  .regex(
    /^[-!#$%&'*+.^_`|~0-9A-Za-z]+$/,
    "must be an HTTP header name (letters, digits and -!#$%&'*+.^_`|~)",
  );

const exec = z.strictObject({
  command: z.array(z.string()).min(1, 'at least one word is required'),
});
const httpGet = z.strictObject({
  path: z.string().optional(),
  port: portOrName,
  host: z.string().min(1).optional(),
  scheme: z.enum(['HTTP', 'HTTPS']).optional(),
  httpHeaders: z.array(z.strictObject({ name: headerName, value: z.string() })).optional(),
});
const tcpSocket = z.strictObject({ port: portOrName, host: z.string().min(1).optional() });
/** k8s: a number only (no port names for gRPC). */
const grpc = z.strictObject({ port, service: z.string().optional() });

const exactlyOne = (names: readonly string[]) => (h: Record<string, unknown>, c: z.RefinementCtx) => {
  if (names.filter((n) => h[n] !== undefined).length !== 1)
    c.addIssue({ code: 'custom', message: `exactly one of ${names.join(', ')} is required` });
};

export const lifecycleHandler = z
  .strictObject({ exec: exec.optional(), httpGet: httpGet.optional() })
  .superRefine(exactlyOne(['exec', 'httpGet']));

/** k8s: int32 fields, non-negative; 0 stands for the default (agent/objects/defaults.ts). */
const seconds = z.number().int().min(0).max(2_147_483_647);

export const probe = z
  .strictObject({
    exec: exec.optional(),
    httpGet: httpGet.optional(),
    tcpSocket: tcpSocket.optional(),
    grpc: grpc.optional(),
    initialDelaySeconds: seconds.optional(),
    periodSeconds: seconds.optional(),
    timeoutSeconds: seconds.optional(),
    successThreshold: seconds.optional(),
    failureThreshold: seconds.optional(),
    terminationGracePeriodSeconds: z.number().int().min(1).max(2_147_483_647).optional(),
  })
  .superRefine(exactlyOne(['exec', 'httpGet', 'tcpSocket', 'grpc']));
