// Messages on the membership topic. JSON, validated on receipt: a bad message is dropped and counted.
import { z } from 'zod';
import type { Heartbeat } from './member-table.ts';

export const membersTopic = (cluster: string) => `/nokube/${cluster}/members/1`;

const heartbeat = z.object({
  t: z.literal('hb'),
  name: z.string().min(1).max(63),
  peerId: z.string().min(1),
  address: z.string().min(1),
  roles: z.array(z.enum(['head', 'worker'])),
  labels: z.record(z.string(), z.string()),
  multiaddrs: z.array(z.string()).max(16),
  incarnation: z.number().int().nonnegative(),
  seq: z.number().int().nonnegative(),
  api: z.string().optional(),
  grace: z.number().int().nonnegative().max(3_600_000).optional(),
});
const leave = z.object({
  t: z.literal('leave'),
  name: z.string().min(1).max(63),
  incarnation: z.number().int(),
});
/** "My connection to this member broke and its port refused a redial": a reason for others to probe it. */
const dead = z.object({
  t: z.literal('dead'),
  name: z.string().min(1).max(63),
  incarnation: z.number().int(),
});
const message = z.discriminatedUnion('t', [heartbeat, leave, dead]);

export type MeshMessage = z.infer<typeof message>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeHeartbeat(hb: Heartbeat): Uint8Array {
  return encoder.encode(JSON.stringify({ t: 'hb', ...hb }));
}

/**
 * A heartbeat's JSON without its closing `,"seq":N}`: between changes of the member only seq moves, so
 * each beat appends that to a cached head instead of encoding the whole record (same JSON object; key
 * order differs, which no reader depends on).
 */
export function heartbeatFrameHead(hb: Heartbeat): string {
  const { seq: _seq, ...rest } = hb;
  const json = JSON.stringify({ t: 'hb', ...rest });
  return json.slice(0, -1);
}

export function heartbeatFrame(head: string, seq: number): Uint8Array {
  return encoder.encode(`${head},"seq":${seq}}`);
}

export function encodeLeave(name: string, incarnation: number): Uint8Array {
  return encoder.encode(JSON.stringify({ t: 'leave', name, incarnation }));
}

export function encodeDead(name: string, incarnation: number): Uint8Array {
  return encoder.encode(JSON.stringify({ t: 'dead', name, incarnation }));
}

export function decodeMessage(data: Uint8Array): MeshMessage | null {
  try {
    const parsed = message.safeParse(JSON.parse(decoder.decode(data)));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
