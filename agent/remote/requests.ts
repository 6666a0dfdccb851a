// What a pod stream asks for (k8s names: tailLines, sinceSeconds, timestamps, follow; exec: command,
// stdin, tty). stdin and tty are left out when false, so a plain exec is understood by older agents.
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
    /** Attach the client's stdin (input frames) to the command. */
    stdin: z.literal(true).optional(),
    /** Run the command on a terminal: output arrives as stdout only, resize frames set its size. */
    tty: z.literal(true).optional(),
  }),
]);
export type PodStreamRequest = z.infer<typeof podStreamRequest>;
export type LogsRequest = Extract<PodStreamRequest, { op: 'logs' }>;
export type ExecRequest = Extract<PodStreamRequest, { op: 'exec' }>;
