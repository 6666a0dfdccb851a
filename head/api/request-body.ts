// A request's JSON body, checked before it is parsed: its media type (415), its size (413, from
// Content-Length first, then as it arrives), its encoding (UTF-8, 400) and how deep it nests (400).
// Only then JSON.parse, so no request can make the head buffer, decode or recurse without bound.
import type { IncomingMessage } from 'node:http';
import { MIMEType } from 'node:util';
import { formatBytes, MAX_BODY_BYTES, MAX_BODY_DEPTH } from '../../agent/objects/limits.ts';
import { HttpError } from './http-error.ts';
import { nestsDeeperThan } from './json-depth.ts';

const ACCEPTED = 'application/json (UTF-8)';
const utf8 = new TextDecoder('utf-8', { fatal: true });

export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  checkMediaType(req);
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) throw tooLarge(`${declared} bytes`);
  const chunks = await readUpTo(req, MAX_BODY_BYTES);
  if (!chunks) throw tooLarge(`more than ${MAX_BODY_BYTES} bytes`);
  let text: string;
  try {
    text = utf8.decode(Buffer.concat(chunks));
  } catch {
    throw new HttpError(400, 'the request body is not valid UTF-8');
  }
  if (nestsDeeperThan(text, MAX_BODY_DEPTH))
    throw new HttpError(
      400,
      `the request body nests arrays and objects more than ${MAX_BODY_DEPTH} levels deep (the limit)`,
    );
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `invalid JSON: ${(err as Error).message}`);
  }
}

/** application/json, with no charset or UTF-8 (JSON's only encoding, RFC 8259), and no Content-Encoding. */
function checkMediaType(req: IncomingMessage): void {
  const header = req.headers['content-type'];
  if (!header) throw new HttpError(415, `the request has no Content-Type; send ${ACCEPTED}`);
  let type: MIMEType | undefined;
  try {
    type = new MIMEType(header);
  } catch {
    type = undefined;
  }
  const charset = type?.params.get('charset')?.toLowerCase();
  if (type?.essence !== 'application/json' || (charset !== undefined && charset !== 'utf-8'))
    throw new HttpError(415, `Content-Type "${header.slice(0, 100)}" is not accepted; send ${ACCEPTED}`);
  const encoding = req.headers['content-encoding'];
  if (encoding && encoding.toLowerCase() !== 'identity')
    throw new HttpError(
      415,
      `Content-Encoding "${encoding.slice(0, 100)}" is not accepted; send the body unencoded`,
    );
}

const tooLarge = (size: string) =>
  new HttpError(
    413,
    `the request body is ${size}, over the limit of ${formatBytes(MAX_BODY_BYTES)} (${MAX_BODY_BYTES} bytes)`,
  );

/** The body's chunks, or null as soon as it passes `limit` bytes. The stream is left open (paused, not
 * destroyed), so the answer can still reach a client that is busy sending: see discardBody. */
function readUpTo(req: IncomingMessage, limit: number): Promise<Buffer[] | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (v: Buffer[] | null) => {
      req.off('data', onData).off('end', onEnd).off('error', reject);
      resolve(v);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        done(null);
      } else chunks.push(chunk);
    };
    const onEnd = () => done(chunks);
    req.on('data', onData).on('end', onEnd).on('error', reject);
  });
}

/** After a 413: read and drop what the client still sends, up to `cap` bytes (then cut the connection), so
 * a client writing its body before it reads the answer gets the answer rather than a reset. */
export function discardBody(req: IncomingMessage, cap = 4 * MAX_BODY_BYTES): void {
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > cap) req.socket.destroy();
  });
  req.resume();
}
