// A prewarm task as the seed's REST API shows it (seed 001 `Task`): the ImagePrewarm object and its status
// in the seed's field names, status in lower case.
import type { ImagePrewarm, PrewarmProgress } from '../../agent/objects/types.ts';
import { settingsOf } from './defaults.ts';

export type TaskStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
export const TASK_STATUSES: readonly TaskStatus[] = [
  'pending',
  'running',
  'completed',
  'failed',
  'cancelled',
];

export interface TaskView {
  taskId: string;
  namespace: string;
  status: TaskStatus;
  message?: string;
  images: string[];
  batchSize: number;
  nodeSelector?: Record<string, string>;
  maxFailureRatio: number;
  retries: number;
  pullTimeoutSeconds: number;
  priority: number;
  progress?: PrewarmProgress;
  failedNodeDetails?: Array<{
    nodeName: string;
    image: string;
    reason: string;
    message: string;
    timestamp: string;
  }>;
  createdAt?: string;
  startedAt?: string;
  finishedAt?: string;
  estimatedCompletion?: string;
}

export const taskStatusOf = (task: ImagePrewarm): TaskStatus =>
  (task.status?.phase ?? 'Pending').toLowerCase() as TaskStatus;

export function taskView(task: ImagePrewarm): TaskView {
  const st = task.status;
  const s = settingsOf(task.spec);
  return {
    taskId: task.metadata.name,
    namespace: task.metadata.namespace ?? 'default',
    status: taskStatusOf(task),
    ...(st?.message ? { message: st.message } : {}),
    images: task.spec.images,
    batchSize: task.spec.batchSize,
    ...(task.spec.nodeSelector ? { nodeSelector: task.spec.nodeSelector } : {}),
    maxFailureRatio: s.maxFailureRatio,
    retries: s.retries,
    pullTimeoutSeconds: s.pullTimeoutMs / 1000,
    priority: s.priority,
    ...(st?.progress ? { progress: st.progress } : {}),
    ...(st?.failedNodeDetails
      ? {
          failedNodeDetails: st.failedNodeDetails.map((f) => ({
            nodeName: f.node,
            image: f.image,
            reason: f.reason,
            message: f.message,
            timestamp: f.time,
          })),
        }
      : {}),
    ...(task.metadata.creationTimestamp ? { createdAt: task.metadata.creationTimestamp } : {}),
    ...(st?.startTime ? { startedAt: st.startTime } : {}),
    ...(st?.completionTime ? { finishedAt: st.completionTime } : {}),
    ...(st?.estimatedCompletion ? { estimatedCompletion: st.estimatedCompletion } : {}),
  };
}
