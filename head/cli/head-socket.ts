// A WebSocket the head refused at the upgrade (401 without a valid token, 403 without the right, 503
// when it cannot check): the head's JSON message as a HeadError, one line like any other answer.
import type WebSocket from 'ws';
import { HeadError } from './head-client.ts';

const MAX_BODY = 64 * 1024;

export function whenRefused(ws: WebSocket, fail: (err: Error) => void): void {
  ws.on('unexpected-response', (req, res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      if (body.length < MAX_BODY) body += d;
    });
    res.on('end', () => {
      const status = res.statusCode ?? 0;
      let message = `HTTP ${status}`;
      try {
        message = (JSON.parse(body) as { error?: string }).error ?? message;
      } catch {
        // not JSON: the status says it
      }
      fail(new HeadError(status, message));
      req.destroy();
    });
  });
}
