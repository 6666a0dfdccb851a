// Forwarding a query the cluster domain does not hold to the host's resolvers, with a deadline: over UDP
// one socket per query (a random source port) and a random ID, the upstreams tried in turn every
// ATTEMPT_MS (an answer to an earlier attempt still counts) until the deadline; over TCP one connection per
// attempt. The answer is relayed as the upstream gave it (its TC bit too), with the client's ID. null: no
// answer by the deadline (the caller answers SERVFAIL).
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';

/** The whole forward: below the stub resolvers' own 5 s, so the pod hears SERVFAIL rather than nothing. */
export const FORWARD_DEADLINE_MS = 2000;
/** Another upstream (or the same one again) is asked when one is silent this long. */
export const ATTEMPT_MS = 700;

export interface Upstream {
  address: string;
  port: number;
}

export async function forwardUdp(
  query: Uint8Array,
  upstreams: readonly Upstream[],
  deadlineMs = FORWARD_DEADLINE_MS,
): Promise<Uint8Array | null> {
  if (upstreams.length === 0 || query.length < 12) return null;
  const clientId = (query[0]! << 8) | query[1]!;
  const id = randomInt(0, 0x10000);
  const out = Buffer.from(query);
  out.writeUInt16BE(id, 0);
  // One socket per address family for the whole forward (every attempt's answer lands on it).
  const sockets = new Map<'udp4' | 'udp6', Socket>();
  const asked = new Set<string>();
  return new Promise<Uint8Array | null>((resolve) => {
    let done = false;
    let attempt = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (answer: Uint8Array | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(deadline);
      for (const s of sockets.values()) s.close();
      resolve(answer);
    };
    const deadline = setTimeout(() => finish(null), deadlineMs);
    const socketFor = (family: 'udp4' | 'udp6') => {
      let socket = sockets.get(family);
      if (socket) return socket;
      socket = createSocket(family);
      sockets.set(family, socket);
      socket.on('error', () => undefined);
      socket.on('message', (msg, from) => {
        if (!asked.has(`${from.address}/${from.port}`)) return;
        if (msg.length < 12 || msg.readUInt16BE(0) !== id || (msg[2]! & 0x80) === 0) return;
        msg.writeUInt16BE(clientId, 0);
        finish(msg);
      });
      return socket;
    };
    const send = () => {
      if (done) return;
      const up = upstreams[attempt++ % upstreams.length]!;
      asked.add(`${up.address}/${up.port}`);
      socketFor(isIPv6(up.address) ? 'udp6' : 'udp4').send(out, up.port, up.address, () => undefined);
      timer = setTimeout(send, ATTEMPT_MS);
    };
    send();
  });
}

export async function forwardTcp(
  query: Uint8Array,
  upstreams: readonly Upstream[],
  deadlineMs = FORWARD_DEADLINE_MS,
): Promise<Uint8Array | null> {
  const end = Date.now() + deadlineMs;
  for (let i = 0; i < upstreams.length && Date.now() < end; i++) {
    const answer = await tcpOnce(query, upstreams[i]!, end - Date.now());
    if (answer) return answer;
  }
  return null;
}

function tcpOnce(query: Uint8Array, up: Upstream, timeoutMs: number): Promise<Uint8Array | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: up.address, port: up.port });
    let buf = Buffer.alloc(0);
    const finish = (answer: Uint8Array | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on('error', () => finish(null));
    socket.on('close', () => finish(null));
    socket.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length, 0);
      socket.write(Buffer.concat([len, query]));
    });
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0))
        finish(buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
  });
}
