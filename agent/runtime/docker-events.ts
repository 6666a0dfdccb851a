// Following the engine's event stream (`GET /events`, one JSON object per line) for as long as a part
// runs: a stream that ends or fails is opened again after RESTART_MS, and while the engine does not answer
// at all the wait doubles up to RESTART_MAX_MS (an engine that is down costs a connect every 16 s, not
// every 2 s); a stream that opened starts the count again. Events missed meanwhile are the caller's
// re-list's to find. Used by the pods part (kick a pod's actor), the container log followers and image GC.
import type Docker from 'dockerode';

export const RESTART_MS = 2000;
export const RESTART_MAX_MS = 16_000;

export interface DockerEvent {
  id?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** Call `onEvent` for each event matching `filters` until stop(). */
export function watchDockerEvents(
  docker: Docker,
  filters: Record<string, string[]>,
  onEvent: (ev: DockerEvent) => void,
): { stop(): void } {
  let stopped = false;
  let stream: NodeJS.ReadableStream | undefined;
  let wait = RESTART_MS;
  const destroy = (s: NodeJS.ReadableStream | undefined) =>
    (s as { destroy?: () => void } | undefined)?.destroy?.();
  const open = () => {
    if (stopped) return;
    docker.getEvents({ filters: JSON.stringify(filters) }).then(
      (s) => {
        if (stopped) return destroy(s);
        stream = s;
        wait = RESTART_MS;
        let buf = '';
        s.on('data', (chunk: Buffer) => {
          buf += chunk.toString('utf8');
          for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            try {
              onEvent(JSON.parse(line) as DockerEvent);
            } catch {
              // a partial or foreign line: the caller's re-list covers it
            }
          }
        });
        // 'error' and 'end' may both come: one new stream, not two.
        let restarted = false;
        const again = () => {
          if (restarted || stopped) return;
          restarted = true;
          setTimeout(open, RESTART_MS).unref();
        };
        s.on('end', again);
        s.on('error', again);
      },
      () => {
        if (stopped) return;
        setTimeout(open, wait).unref();
        wait = Math.min(wait * 2, RESTART_MAX_MS);
      },
    );
  };
  open();
  return {
    stop() {
      stopped = true;
      destroy(stream);
    },
  };
}
