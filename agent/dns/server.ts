// The node resolver's sockets: UDP and TCP port 53 on the node's pod gateway address. A question of the
// cluster domain is answered from the zone (lookup.ts) at once; any other is forwarded (forward.ts) to the
// host's resolvers. Bounded: MAX_FORWARDS forwards in flight (past it: SERVFAIL at once), each within
// FORWARD_DEADLINE_MS (then SERVFAIL); MAX_TCP_CONNECTIONS connections, each closed after TCP_IDLE_MS
// idle; a UDP answer over 512 bytes (or the client's EDNS size, at most 1232) is sent truncated (TC) for
// the client to ask again over TCP. Nothing is logged per query: refusals and timeouts are counted and
// said at most once a minute.
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import {
  type Answer,
  decode,
  encode,
  type Packet,
  type Question,
  RECURSION_AVAILABLE,
  RECURSION_DESIRED,
  TRUNCATED_RESPONSE,
} from '@dnsquery/dns-packet';
import type { Logger } from '../log/logger.ts';
import { forwardTcp, forwardUdp, type Upstream } from './forward.ts';
import { type LookupResult, lookup } from './lookup.ts';
import type { Zone } from './zone.ts';

export const MAX_FORWARDS = 256;
export const MAX_TCP_CONNECTIONS = 64;
export const TCP_IDLE_MS = 10_000;
/** UDP answers without EDNS (RFC 1035), and the most we send with it (the DNS flag day's 1232). */
const UDP_PLAIN = 512;
const UDP_EDNS_MAX = 1232;
const UDP_BUFFER = 1 << 20;
const AUTHORITATIVE = 1 << 10;
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;
const REPORT_EVERY_MS = 60_000;

export interface DnsServerDeps {
  address: string;
  port: number;
  domain: string;
  zone(): Zone;
  /** The host's resolvers now (read again when their file changes). */
  upstreams(): Promise<Upstream[]>;
  log: Logger;
  /** Told of each answer, by kind (metrics). */
  count?(result: DnsResult): void;
}

/** What a query got: an answer of the zone (NOERROR or NXDOMAIN), the upstream's, SERVFAIL, or an error
 * for a malformed or unsupported message. */
export type DnsResult = 'cluster' | 'nxdomain' | 'forwarded' | 'servfail' | 'error';

type Opt = { udpPayloadSize?: number };

export class DnsServer {
  private readonly deps: DnsServerDeps;
  private udp: Socket | undefined;
  private tcp: Server | undefined;
  private forwards = 0;
  private readonly tally = { refused: 0, timedOut: 0, since: 0 };

  constructor(deps: DnsServerDeps) {
    this.deps = deps;
  }

  async listen(): Promise<void> {
    const { address, port } = this.deps;
    // A burst of queries waits in the kernel's buffer, not dropped (capped by net.core.rmem_max).
    const udp = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', recvBufferSize: UDP_BUFFER });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, address, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (err) => this.deps.log.warn({ err: String(err) }, 'DNS UDP socket error'));
    udp.on('message', (msg, from) => {
      void this.respond(msg, false).then((answer) => {
        if (answer) udp.send(answer, from.port, from.address, () => undefined);
      });
    });
    this.udp = udp;
    const tcp = createServer((socket) => this.serveTcp(socket));
    tcp.maxConnections = MAX_TCP_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, address, () => {
        tcp.off('error', reject);
        resolve();
      });
    }).catch((err) => {
      udp.close();
      this.udp = undefined;
      throw err;
    });
    tcp.on('error', (err) => this.deps.log.warn({ err: String(err) }, 'DNS TCP server error'));
    this.tcp = tcp;
  }

  async close(): Promise<void> {
    this.udp?.close();
    this.udp = undefined;
    await new Promise<void>((resolve) => (this.tcp ? this.tcp.close(() => resolve()) : resolve()));
    this.tcp = undefined;
  }

  /** The answer to one message (null: nothing to answer, e.g. not a query). */
  async respond(msg: Uint8Array, tcp: boolean): Promise<Uint8Array | null> {
    let req: Packet;
    try {
      req = decode(msg);
    } catch {
      this.deps.count?.('error');
      return msg.length >= 12 ? errorAnswer(msg, RCODE.FORMERR) : null;
    }
    if (req.type !== 'query') return null;
    const question = req.questions?.[0];
    if (req.opcode !== 'QUERY' || !question || req.questions!.length !== 1) {
      this.deps.count?.('error');
      return errorAnswer(msg, req.opcode !== 'QUERY' ? RCODE.NOTIMP : RCODE.FORMERR);
    }
    const result = lookup(this.deps.zone(), this.deps.domain, question);
    if (result.forward) return this.forward(msg, tcp);
    this.deps.count?.(result.rcode === 'NXDOMAIN' ? 'nxdomain' : 'cluster');
    if (!result.chase) return this.local(req, result, tcp);
    const more = await this.chase(result.chase, question.type, tcp);
    return this.local(req, { ...result, answers: [...result.answers, ...more] }, tcp);
  }

  /** The records of a CNAME's target for the type asked: from the zone when the name is ours (one level:
   * a CNAME there is the client's to follow), else from the host's resolvers. None when it has none or
   * no resolver answered: the client still has the CNAME. */
  private async chase(name: string, type: Question['type'], tcp: boolean): Promise<Answer[]> {
    const inner = lookup(this.deps.zone(), this.deps.domain, { name, type });
    if (!inner.forward) return inner.answers;
    const query = encode({
      type: 'query',
      id: randomInt(0x10000),
      flags: RECURSION_DESIRED,
      questions: [{ name, type, class: 'IN' }],
    });
    try {
      const reply = decode(await this.forward(query, tcp));
      return reply.rcode === 'NOERROR' ? (reply.answers ?? []) : [];
    } catch {
      return [];
    }
  }

  private async forward(msg: Uint8Array, tcp: boolean): Promise<Uint8Array> {
    if (this.forwards >= MAX_FORWARDS) {
      this.deps.count?.('servfail');
      this.tally.refused++;
      this.report();
      return errorAnswer(msg, RCODE.SERVFAIL);
    }
    this.forwards++;
    try {
      const upstreams = await this.deps.upstreams();
      const answer = tcp ? await forwardTcp(msg, upstreams) : await forwardUdp(msg, upstreams);
      if (answer) {
        this.deps.count?.('forwarded');
        return answer;
      }
      this.deps.count?.('servfail');
      this.tally.timedOut++;
      this.report();
      return errorAnswer(msg, RCODE.SERVFAIL);
    } finally {
      this.forwards--;
    }
  }

  private local(req: Packet, result: Exclude<LookupResult, { forward: true }>, tcp: boolean): Uint8Array {
    const opt = req.additionals?.find((a) => a.type === 'OPT') as Opt | undefined;
    const limit = tcp
      ? 0xffff
      : opt
        ? Math.min(UDP_EDNS_MAX, Math.max(UDP_PLAIN, opt.udpPayloadSize ?? UDP_PLAIN))
        : UDP_PLAIN;
    const ourOpt = opt ? [{ name: '.', type: 'OPT', udpPayloadSize: UDP_EDNS_MAX } as unknown as Answer] : [];
    const res: Packet = {
      type: 'response',
      id: req.id ?? 0,
      flags:
        AUTHORITATIVE | RECURSION_AVAILABLE | ((req.flags ?? 0) & RECURSION_DESIRED) | RCODE[result.rcode],
      questions: req.questions ?? [],
      answers: result.answers,
      authorities: result.authorities,
      additionals: [...result.additionals, ...ourOpt],
    };
    const out = encode(res);
    if (out.length <= limit) return out;
    return encode({
      ...res,
      flags: (res.flags ?? 0) | TRUNCATED_RESPONSE,
      answers: [],
      authorities: [],
      additionals: ourOpt,
    });
  }

  private serveTcp(socket: TcpSocket): void {
    let buf = Buffer.alloc(0);
    let chain = Promise.resolve();
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      // One message is at most 64 KiB: more buffered than two is a client not reading its answers.
      if (buf.length > 2 * 0x10002) return socket.destroy();
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        chain = chain.then(async () => {
          const answer = await this.respond(msg, true);
          if (!answer || socket.destroyed) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(answer.length, 0);
          socket.write(Buffer.concat([len, answer]));
        });
      }
    });
  }

  /** Refusals and timeouts, said at most once a minute. */
  private report(): void {
    const now = Date.now();
    if (now - this.tally.since < REPORT_EVERY_MS) return;
    this.deps.log.warn(
      {
        refused: this.tally.refused,
        timedOut: this.tally.timedOut,
        seconds: Math.round((now - this.tally.since) / 1000),
      },
      `DNS forwards answered SERVFAIL (over ${MAX_FORWARDS} in flight, or no upstream answer in time)`,
    );
    this.tally.refused = 0;
    this.tally.timedOut = 0;
    this.tally.since = now;
  }
}

/** A header-only answer with this rcode (the question kept when the message has one). */
function errorAnswer(msg: Uint8Array, rcode: number): Uint8Array {
  let questions: Packet['questions'] = [];
  try {
    questions = decode(msg).questions?.slice(0, 1) ?? [];
  } catch {
    questions = [];
  }
  const flags = ((msg[2]! & 0x79) << 8) | RECURSION_AVAILABLE | rcode; // opcode and RD kept
  return encode({ type: 'response', id: (msg[0]! << 8) | msg[1]!, flags, questions });
}
