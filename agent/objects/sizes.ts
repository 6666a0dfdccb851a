// Object and status sizes against the limits of ./limits.ts, checked before a write so that etcd never
// refuses one for its size (its error would name neither the object nor the limit).
import { describeObject } from './kubectl-names.ts';
import { formatBytes, MAX_APPLY_BYTES, MAX_OBJECT_BYTES } from './limits.ts';
import type { ObjectRef } from './store.ts';

const limitText = (n: number) => `${formatBytes(n)} (${n} bytes)`;

/** The problem with an object's stored JSON, if it is over MAX_OBJECT_BYTES. */
export function objectSizeProblem(storedJson: string): string | undefined {
  const size = Buffer.byteLength(storedJson);
  if (size <= MAX_OBJECT_BYTES) return undefined;
  return `is ${size} bytes as stored, over the limit of ${limitText(MAX_OBJECT_BYTES)} per object`;
}

/** The problem with what one apply writes in its transaction, if it is over MAX_APPLY_BYTES. */
export function applySizeProblem(storedJsons: string[]): string | undefined {
  const size = storedJsons.reduce((sum, s) => sum + Buffer.byteLength(s), 0);
  if (size <= MAX_APPLY_BYTES) return undefined;
  return `this apply writes ${storedJsons.length} objects of ${size} bytes in all, over the limit of ${limitText(MAX_APPLY_BYTES)} per apply (one etcd transaction): apply fewer objects at a time`;
}

/** A status that cannot be brought under MAX_OBJECT_BYTES: nothing was written. */
export class StatusTooLargeError extends Error {
  constructor(ref: ObjectRef, size: number) {
    super(
      `the status of ${describeObject(ref)} is ${size} bytes, over the limit of ${limitText(MAX_OBJECT_BYTES)} per status, even with its texts cut; it was not written`,
    );
    this.name = 'StatusTooLargeError';
  }
}

/** Texts are cut to this many characters first, then to a quarter of it, down to the last. */
const KEEP_FIRST = 4096;
const KEEP_LAST = 64;

/**
 * A status as stored: its JSON, or, when that is over MAX_OBJECT_BYTES, its JSON with long texts cut
 * (what grows a status is messages, such as a runtime's error output) and marked as cut. A status
 * still over the limit throws StatusTooLargeError.
 */
export function boundedStatusJson(ref: ObjectRef, status: unknown): string {
  let text = JSON.stringify(status);
  const marker = `… [cut: the status was over ${formatBytes(MAX_OBJECT_BYTES)}]`;
  for (let keep = KEEP_FIRST; Buffer.byteLength(text) > MAX_OBJECT_BYTES && keep >= KEEP_LAST; keep /= 4)
    text = JSON.stringify(status, (_key, v: unknown) =>
      typeof v === 'string' && v.length > keep ? `${v.slice(0, keep)}${marker}` : v,
    );
  const size = Buffer.byteLength(text);
  if (size > MAX_OBJECT_BYTES) throw new StatusTooLargeError(ref, size);
  return text;
}
