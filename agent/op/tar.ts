// A minimal ustar writer, streamed (the binary is ~130 MB and never held in memory): regular files from
// disk under any path in the archive, directories, symbolic links, and the end marker. Enough for `docker import`.
// Also a one-file archive in memory (the built-in sandbox image: agent/podnet/pause/image.ts).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';

export type TarEntry =
  | { type: 'file'; path: string; from: string; mode: number }
  | { type: 'text'; path: string; text: string; mode: number }
  | { type: 'dir'; path: string; mode: number }
  | { type: 'symlink'; path: string; target: string };

const BLOCK = 512;

/** Archive paths are relative ("usr/lib/x"); a long one is split into ustar's prefix and name. */
function splitName(path: string): [string, string] {
  const p = path.replace(/^\/+/, '');
  if (Buffer.byteLength(p) <= 100) return ['', p];
  for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1)) {
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return [prefix, name];
  }
  throw new Error(`tar: path too long for ustar: ${path}`);
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

export function tarHeader(
  path: string,
  type: '0' | '2' | '5',
  size: number,
  mode: number,
  mtime: number,
  linkname = '',
): Buffer {
  const h = Buffer.alloc(BLOCK);
  const [prefix, name] = splitName(path);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(Math.floor(mtime), 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type, 156, 'ascii');
  if (Buffer.byteLength(linkname) > 100) throw new Error(`tar: link target too long: ${linkname}`);
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

async function* entries(list: TarEntry[]): AsyncGenerator<Buffer> {
  const now = Date.now() / 1000;
  for (const e of list) {
    if (e.type === 'dir') {
      yield tarHeader(`${e.path.replace(/\/+$/, '')}/`, '5', 0, e.mode, now);
    } else if (e.type === 'symlink') {
      yield tarHeader(e.path, '2', 0, 0o777, now, e.target);
    } else if (e.type === 'text') {
      const body = Buffer.from(e.text);
      yield tarHeader(e.path, '0', body.length, e.mode, now);
      yield body;
      yield padding(body.length);
    } else {
      const s = await stat(e.from);
      yield tarHeader(e.path, '0', s.size, e.mode, s.mtimeMs / 1000);
      let written = 0;
      for await (const chunk of createReadStream(e.from)) {
        written += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      if (written !== s.size) throw new Error(`tar: ${e.from} changed size while archived`);
      yield padding(s.size);
    }
  }
  yield Buffer.alloc(2 * BLOCK);
}

/** An archive of one regular file held in memory, with a fixed mtime (0): the same file makes the same
 * archive, so `docker import` makes the same image id. */
export function oneFileTar(name: string, data: Buffer, mode: number): Buffer {
  return Buffer.concat([
    tarHeader(name, '0', data.length, mode, 0),
    data,
    padding(data.length),
    Buffer.alloc(2 * BLOCK),
  ]);
}

/** The archive as a stream. */
export function tarStream(list: TarEntry[]): Readable {
  return Readable.from(entries(list), { objectMode: false });
}
