// tls.dir on the operator's machine: what is there, the CA read back (its key must belong to it), and new
// files written (keys 0600, directories 0700; each file replaced by a rename, never half-written).
import { chmod, lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UsageError } from '../../../agent/errors.ts';
import { parseCertificate } from '../../../agent/tls/inspect.ts';
import type { SigningCa } from '../../../agent/tls/issue.ts';
import { DIR_MODE, PKI_FILES } from '../../../agent/tls/layout.ts';
import { importPrivateKey, publicKeyDerOf } from '../../../agent/tls/x509.ts';

export interface PkiFile {
  /** Relative to tls.dir. */
  rel: string;
  text: string;
  mode: number;
}

const exists = (path: string) =>
  lstat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );

/** The files of `rels` that exist in `dir`. */
export async function existing(dir: string, rels: string[]): Promise<string[]> {
  const found = await Promise.all(rels.map((r) => exists(join(dir, r))));
  return rels.filter((_, i) => found[i]);
}

/** An existing tls.dir others can enter would show them the CA key's name at least, and a loose mode is
 * how keys leak: refused, not silently changed. */
export async function checkDirMode(dir: string): Promise<void> {
  for (const d of [dir, join(dir, PKI_FILES.nodesDir)]) {
    const st = await lstat(d).catch(() => undefined);
    if (st && !st.isDirectory()) throw new UsageError(`tls.dir ${d} is not a directory`);
    if (st && (st.mode & 0o077) !== 0)
      throw new UsageError(
        `tls.dir ${d} is open to other users (mode ${(st.mode & 0o777).toString(8)}): chmod 700 ${d}`,
      );
  }
}

/** The CA of tls.dir, able to sign; every problem names the file. */
export async function loadCa(dir: string): Promise<SigningCa & { pem: string }> {
  const certPath = join(dir, PKI_FILES.caCert);
  const keyPath = join(dir, PKI_FILES.caKey);
  const missing = await Promise.all([certPath, keyPath].map(async (p) => ((await exists(p)) ? [] : [p])));
  if (missing.flat().length > 0)
    throw new UsageError(
      `tls.dir ${dir} has no CA (${missing.flat().join(', ')} missing): nokube tls init <cluster.yaml> makes one`,
    );
  const pem = await readFile(certPath, 'utf8');
  const keyPem = await readFile(keyPath, 'utf8');
  let cert: ReturnType<typeof parseCertificate>;
  try {
    cert = parseCertificate(pem);
  } catch (err) {
    throw new UsageError(`tls.dir ${certPath}: ${(err as Error).message}`);
  }
  let match: boolean;
  try {
    match = publicKeyDerOf(keyPem).equals(Buffer.from(cert.publicKey.rawData));
  } catch {
    throw new UsageError(`tls.dir ${keyPath}: not a readable private key (PEM)`);
  }
  if (!match) throw new UsageError(`tls.dir ${keyPath}: the key does not belong to ${certPath}`);
  const key = await importPrivateKey(keyPem).catch((err: Error) => {
    throw new UsageError(`tls.dir ${keyPath}: ${err.message}`);
  });
  return { cert, key, pem };
}

/** Write `files` under `dir` (created 0700 with nodes/). `replace`: each file is written beside its target
 * and renamed over it; otherwise a file that exists is an error and nothing is replaced. */
export async function writePkiFiles(dir: string, files: PkiFile[], replace: boolean): Promise<void> {
  await mkdir(join(dir, PKI_FILES.nodesDir), { recursive: true, mode: DIR_MODE });
  for (const f of files) {
    const path = join(dir, f.rel);
    await mkdir(dirname(path), { recursive: true, mode: DIR_MODE });
    if (!replace) {
      await writeFile(path, f.text, { mode: f.mode, flag: 'wx' });
      continue;
    }
    const staged = `${path}.new`;
    await rm(staged, { force: true });
    await writeFile(staged, f.text, { mode: f.mode, flag: 'wx' });
    await chmod(staged, f.mode);
    await rename(staged, path);
  }
}

/** Keep the files `rels` as `<name>.previous.pem` (replacing an older such copy). */
export async function keepPrevious(dir: string, rels: string[]): Promise<string[]> {
  const kept: string[] = [];
  for (const rel of rels) {
    const to = rel.replace(/\.pem$/, '.previous.pem');
    await rename(join(dir, rel), join(dir, to));
    kept.push(to);
  }
  return kept;
}
