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
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw tooLarge(`more than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
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
