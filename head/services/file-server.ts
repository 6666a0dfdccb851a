// The head's optional read-only file server (`head.fileServer`): `<workspace>/<subpath>` over HTTP on the
// head's address, linked from Grafana's Home dashboard. GET and HEAD only; directories are listed; a path
// never leaves the root (`..` is resolved away, and a symlink that points outside is refused); single
// byte ranges (`Range: bytes=a-b`) are served for resumable downloads.
import { createReadStream } from 'node:fs';
import { mkdir, opendir, realpath, stat } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.json': 'application/json',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.csv': 'text/csv',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.gz': 'application/gzip',
  '.tar': 'application/x-tar',
};
/** Entries listed per directory page at most (a huge directory must not cost the head its loop). */
const MAX_LISTING = 5000;

export class FileServerPortInUseError extends Error {
  override name = 'FileServerPortInUseError';
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export async function startFileServer(
  root: string,
  bind: { host: string; port: number },
): Promise<{ url: string; stop(): Promise<void> }> {
  await mkdir(root, { recursive: true });
  const realRoot = await realpath(root);
  const fail = (res: ServerResponse, status: number, msg: string) =>
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${msg}\n`);

  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 405, 'read-only: GET and HEAD only');
    let rel: string;
    try {
      rel = decodeURIComponent(new URL(req.url ?? '/', 'http://files').pathname);
    } catch {
      return fail(res, 400, 'bad path');
    }
    // normalize() resolves `..`; a leading `..` left over would climb out of the root.
    const clean = normalize(`/${rel}`).replace(/^(\/\.\.)+/, '');
    const serve = async () => {
      const path = join(realRoot, clean);
      let real: string;
      try {
        real = await realpath(path);
      } catch {
        return fail(res, 404, 'not found');
      }
      if (real !== realRoot && !real.startsWith(realRoot + sep)) return fail(res, 404, 'not found');
      const st = await stat(real);
      if (st.isDirectory()) {
        if (!rel.endsWith('/')) {
          res.writeHead(301, { location: `${rel}/` }).end();
          return;
        }
        const names: string[] = [];
        const dir = await opendir(real);
        for await (const e of dir) {
          names.push(e.isDirectory() ? `${e.name}/` : e.name);
          if (names.length >= MAX_LISTING) break;
        }
        names.sort();
        const items = names.map(
          (n) =>
            `<li><a href="${encodeURIComponent(n.replace(/\/$/, ''))}${n.endsWith('/') ? '/' : ''}">${escapeHtml(n)}</a></li>`,
        );
        const body = `<!doctype html><meta charset="utf-8"><title>${escapeHtml(rel)}</title><h1>${escapeHtml(rel)}</h1><ul>${rel === '/' ? '' : '<li><a href="../">../</a></li>'}${items.join('')}</ul>\n`;
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      const type = TYPES[extname(real).toLowerCase()] ?? 'application/octet-stream';
      const headers: Record<string, string | number> = {
        'content-type': type,
        'accept-ranges': 'bytes',
        'last-modified': st.mtime.toUTCString(),
      };
      let start = 0;
      let end = st.size - 1;
      let status = 200;
      const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
      if (range && (range[1] || range[2])) {
        if (range[1]) {
          start = Number(range[1]);
          if (range[2]) end = Math.min(Number(range[2]), st.size - 1);
        } else start = Math.max(0, st.size - Number(range[2]));
        if (start > end || start >= st.size) {
          res.writeHead(416, { 'content-range': `bytes */${st.size}` }).end();
          return;
        }
        status = 206;
        headers['content-range'] = `bytes ${start}-${end}/${st.size}`;
      }
      headers['content-length'] = st.size === 0 ? 0 : end - start + 1;
      res.writeHead(status, headers);
      if (req.method === 'HEAD' || st.size === 0) return void res.end();
      createReadStream(real, { start, end })
        .on('error', () => res.destroy())
        .pipe(res);
    };
    serve().catch(() => {
      if (!res.headersSent) fail(res, 500, 'read failed');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new FileServerPortInUseError(
              `file server port ${bind.port} on ${bind.host} is in use (head.fileServer.port)`,
            )
          : err,
      ),
    );
    server.listen(bind.port, bind.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
