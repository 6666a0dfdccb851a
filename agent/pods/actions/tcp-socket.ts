// TCP connect to the pod (the node address unless `host` says otherwise): success once it opens; the
// connection is closed at once, as the kubelet does.
import { connect } from 'node:net';
import type { ProbeHandler } from '../../objects/types.ts';
import { type ActionTarget, hostPort, noSuchPort, resolvePort } from './target.ts';

export function tcpSocketAction(
  target: ActionTarget,
  tcp: NonNullable<ProbeHandler['tcpSocket']>,
  signal: AbortSignal,
): Promise<string | undefined> {
  const port = resolvePort(target, tcp.port);
  if (port === undefined) return Promise.resolve(noSuchPort(target, tcp.port));
  const host = tcp.host ?? target.deps.address;
  const where = `dial tcp ${hostPort(host, port)}`;
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: string | undefined) => {
      signal.removeEventListener('abort', abort);
      socket.destroy();
      resolve(result);
    };
    const abort = () => done(`${where}: stopped`);
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(`${where}: ${err.code ?? err.message}`));
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  });
}
