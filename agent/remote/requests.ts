// What a pod stream asks for (k8s names: tailLines, sinceSeconds, timestamps, follow; exec: command).
import { z } from 'zod';

const target = {
  namespace: z.string().min(1),
  pod: z.string().min(1),
  container: z.string().min(1).optional(),
};

export const podStreamRequest = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('logs'),
    ...target,
    follow: z.boolean(),
    tailLines: z.number().int().nonnegative().optional(),
    sinceSeconds: z.number().int().positive().optional(),
    timestamps: z.boolean(),
  }),
  z.strictObject({
    op: z.literal('exec'),
    ...target,
    command: z.array(z.string()).min(1),
  }),
]);
export type PodStreamRequest = z.infer<typeof podStreamRequest>;
export type LogsRequest = Extract<PodStreamRequest, { op: 'logs' }>;
export type ExecRequest = Extract<PodStreamRequest, { op: 'exec' }>;
