// Witnesses: before a member's silence becomes a `dead` verdict, other members are asked whether they
// hear it (SWIM's indirect probe, answered from each witness's own first-hand heartbeats). One short
// stream per question: a length-prefixed JSON request {name, incarnation}, one answer {heard} where heard
// is true (it heard the member within its suspect threshold), false (silent to it too) or null (it cannot
// say: it does not know that incarnation, or was itself paused lately).
import type { Stream } from '@libp2p/interface';
import { lpStream } from 'it-length-prefixed-stream';
import { z } from 'zod';

export const WITNESS_PROTOCOL = '/nokube/witness/1.0.0';
/** Witnesses asked about one silent member. */
export const WITNESSES = 3;
/** How long a witness may take to answer (open, ask, read). */
export const WITNESS_TIMEOUT_MS = 1500;
const MAX_FRAME_BYTES = 1024;

const Question = z.object({ name: z.string().max(253), incarnation: z.number() });
const Answer = z.object({ heard: z.boolean().nullable() });
export type Heard = boolean | null;

/** Serve questions: `judge` answers from this member's own table. */
export async function answerWitnessStream(
  stream: Stream,
  judge: (name: string, incarnation: number) => Heard,
): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES });
  const signal = AbortSignal.timeout(WITNESS_TIMEOUT_MS);
  try {
    const q = Question.parse(JSON.parse(new TextDecoder().decode((await lp.read({ signal })).subarray())));
    const answer = JSON.stringify({ heard: judge(q.name, q.incarnation) });
    await lp.write(new TextEncoder().encode(answer), { signal });
    await stream.close({ signal });
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)));
  }
}

/** Ask one witness; null when it cannot say or does not answer in time. */
export async function askWitness(
  open: (signal: AbortSignal) => Promise<Stream>,
  name: string,
  incarnation: number,
): Promise<Heard> {
  const signal = AbortSignal.timeout(WITNESS_TIMEOUT_MS);
  let stream: Stream | undefined;
  try {
    stream = await open(signal);
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES });
    await lp.write(new TextEncoder().encode(JSON.stringify({ name, incarnation })), { signal });
    const raw = await lp.read({ signal });
    const a = Answer.parse(JSON.parse(new TextDecoder().decode(raw.subarray())));
    await stream.close({ signal }).catch(() => undefined);
    return a.heard;
  } catch {
    stream?.abort(new Error('witness did not answer'));
    return null;
  }
}

export type Verdict = { confirmed: true; reason: string } | { confirmed: false; reason: string };

/** What the answers mean: confirmed when at least one witness answered and none heard the member. */
export function judgeAnswers(answers: Array<{ witness: string; heard: Heard }>): Verdict {
  const heardBy = answers.filter((a) => a.heard === true).map((a) => a.witness);
  const silentTo = answers.filter((a) => a.heard === false).map((a) => a.witness);
  if (heardBy.length > 0)
    return { confirmed: false, reason: `silent to us, but heard by ${heardBy.join(', ')}` };
  if (silentTo.length === 0)
    return {
      confirmed: false,
      reason:
        answers.length === 0
          ? 'silent; no other member to confirm it (its etcd lease decides)'
          : 'silent; no witness could confirm it (its etcd lease decides)',
    };
  return { confirmed: true, reason: `silent, confirmed by ${silentTo.join(', ')}` };
}
