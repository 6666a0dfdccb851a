// The agent's Docker image, built on the host from the installed binary, offline: the binary is Node's own
// executable with the app injected, so the shared libraries it needs are the ones this very process has
// mapped (/proc/self/maps), found by the loader through their soname links, and its dynamic loader is the
// ELF interpreter named in the binary. Those files and links at their paths, the binary at IMAGE_BINARY,
// an /etc/passwd and a /tmp make a tar that the engine imports as
// `<repository>:<first 12 hex of the binary's SHA-256>`; nothing is pulled.
//
// For a cluster with a pod network the image also holds the host's own tools the agent runs for it
// (POD_NETWORK_TOOLS, at /usr/local/sbin) and the libraries `ldd` names for them; the tag then gains the
// first 8 hex of a SHA-256 over those files (`<12 hex>-<8 hex>`): a host whose tools change gets a new image.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { imagePresent } from '../runtime/images.ts';
import { type TarEntry, tarStream } from './tar.ts';

/** Where the binary is in the image (the install dir is mounted in the container too, at its own path). */
export const IMAGE_BINARY = '/usr/local/bin/nokube';

/** What the pod network runs on the host (agent/podnet/kernel.ts, agent/routes/kernel.ts,
 * agent/services/proxy/conntrack.ts), and the package that has it on Debian. */
export const POD_NETWORK_TOOLS = {
  ip: 'iproute2',
  bridge: 'iproute2',
  nft: 'nftables',
  nsenter: 'util-linux',
  conntrack: 'conntrack',
} as const;
const IMAGE_TOOLS_DIR = '/usr/local/sbin';

export const imageRef = (repository: string, binarySha256: string, toolsSha256?: string) =>
  `${repository}:${binarySha256.slice(0, 12)}${toolsSha256 ? `-${toolsSha256.slice(0, 8)}` : ''}`;

/** The ELF interpreter (PT_INTERP) a binary asks for, e.g. /lib64/ld-linux-x86-64.so.2; null if static. */
export async function elfInterpreter(path: string): Promise<string | null> {
  const fh = await open(path, 'r');
  const at = async (offset: number, size: number) => {
    const buf = Buffer.alloc(size);
    const { bytesRead } = await fh.read(buf, 0, size, offset);
    if (bytesRead !== size) throw new Error(`${path}: truncated ELF (offset ${offset})`);
    return buf;
  };
  try {
    const b = await at(0, 64);
    if (b.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path} is not an ELF binary`);
    const is64 = b[4] === 2;
    if (b[5] !== 1) throw new Error(`${path}: big-endian ELF is not supported`);
    // The program headers may be anywhere (the single-executable injection moves them to the end).
    const phoff = is64 ? Number(b.readBigUInt64LE(0x20)) : b.readUInt32LE(0x1c);
    const phentsize = b.readUInt16LE(is64 ? 0x36 : 0x2a);
    const phnum = b.readUInt16LE(is64 ? 0x38 : 0x2c);
    const ph = await at(phoff, phentsize * phnum);
    for (let i = 0; i < phnum; i++) {
      const p = i * phentsize;
      if (ph.readUInt32LE(p) !== 3) continue; // PT_INTERP
      const offset = is64 ? Number(ph.readBigUInt64LE(p + 8)) : ph.readUInt32LE(p + 4);
      const size = is64 ? Number(ph.readBigUInt64LE(p + 32)) : ph.readUInt32LE(p + 16);
      return (await at(offset, size)).toString('utf8').replace(/\0.*$/s, '');
    }
    return null;
  } finally {
    await fh.close();
  }
}

/** Shared libraries mapped into this process (their real paths). */
export async function mappedLibraries(): Promise<string[]> {
  const maps = await readFile('/proc/self/maps', 'utf8');
  const libs = new Set<string>();
  for (const line of maps.split('\n')) {
    const path = line.split(/\s+/).slice(5).join(' ');
    if (path.startsWith('/') && /\.so(\.[0-9.]+)?$/.test(path) && !path.includes(' (deleted)'))
      libs.add(path);
  }
  return [...libs].sort();
}

/** The names the loader looks a library up by (its soname, e.g. libstdc++.so.6): the symbolic links next
 * to it that resolve to it. */
async function libraryLinks(lib: string): Promise<Array<{ path: string; target: string }>> {
  const dir = dirname(lib);
  const name = basename(lib);
  const links: Array<{ path: string; target: string }> = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (!e.isSymbolicLink() || !name.startsWith(e.name)) continue;
    const path = join(dir, e.name);
    if ((await realpath(path).catch(() => '')) === lib) links.push({ path, target: await readlink(path) });
  }
  return links;
}

/** An executable named `name` on the host: the first in PATH and the system directories, its real path. */
async function findTool(name: string): Promise<string | null> {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs.filter((d) => d.startsWith('/'))) {
    const path = join(dir, name);
    if (
      await access(path, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return realpath(path);
  }
  return null;
}

/** The shared libraries a dynamic executable loads, as the host's loader finds them (`ldd`): the paths
 * it names (soname links, mostly), the loader itself included. */
export async function lddLibraries(path: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('ldd', [path], { timeout: 10_000 }));
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`ldd is needed to find ${path}'s libraries (libc-bin)`);
    // A static executable: ldd says so and exits 1.
    if (/not a dynamic executable|statically linked/.test(e.stderr ?? '')) return [];
    throw new Error(`ldd ${path}: ${(e.stderr || e.message).trim()}`);
  }
  const libs: string[] = [];
  for (const line of stdout.split('\n')) {
    if (/=> not found/.test(line)) throw new Error(`${path}: ${line.trim()}`);
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)\s*$/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

interface ToolFiles {
  /** path in the image -> file on the host */
  files: Map<string, string>;
  links: Array<{ path: string; target: string }>;
  libraryDirs: string[];
  sha256: string;
}

/** The pod network's tools from the host, with their libraries at their real paths and a link by the name
 * ldd found each under. A tool missing on the host is an error naming its package. */
export async function toolFiles(): Promise<ToolFiles> {
  const files = new Map<string, string>();
  const links = new Map<string, string>();
  const hash = createHash('sha256');
  for (const [name, pkg] of Object.entries(POD_NETWORK_TOOLS)) {
    const tool = await findTool(name);
    if (!tool)
      throw new Error(`the pod network needs ${name} on the host (Debian package ${pkg}); it is not in PATH`);
    files.set(join(IMAGE_TOOLS_DIR, name), tool);
    for (const lib of await lddLibraries(tool)) {
      const real = await realpath(lib);
      files.set(real, real);
      const link = join(dirname(real), basename(lib));
      if (link !== real) links.set(link, basename(real));
    }
  }
  for (const [path, from] of [...files].sort(([a], [b]) => a.localeCompare(b)))
    hash.update(`${path}\0`).update(await readFile(from));
  return {
    files,
    links: [...links].map(([path, target]) => ({ path, target })).filter((l) => !files.has(l.path)),
    libraryDirs: [...new Set([...files.keys()].filter((p) => !p.startsWith(IMAGE_TOOLS_DIR)).map(dirname))],
    sha256: hash.digest('hex'),
  };
}

/** What goes into the image: the binary, the libraries, the loader at the path the binary names, and the
 * pod network's tools when given. */
export async function imageEntries(
  binary: string,
  tools?: ToolFiles,
): Promise<{ entries: TarEntry[]; libraryDirs: string[] }> {
  if ((await realpath(process.execPath)) !== (await realpath(binary)))
    throw new Error(
      `the agent image is built by the binary it packs (its libraries are this process's): run ${binary} agent op, not ${process.execPath}`,
    );
  const libs = await mappedLibraries();
  const interp = await elfInterpreter(binary);
  const files = new Map<string, string>(); // path in the image -> file on the host
  files.set(IMAGE_BINARY, binary);
  for (const lib of libs) files.set(lib, lib);
  if (interp) files.set(interp, await realpath(interp));
  for (const [path, from] of tools?.files ?? []) files.set(path, from);
  const linked = [...(await Promise.all(libs.map(libraryLinks))).flat(), ...(tools?.links ?? [])];
  const links = [...new Map(linked.map((l) => [l.path, l])).values()].filter((l) => !files.has(l.path));
  const dirs = new Set<string>();
  for (const p of files.keys()) for (let d = dirname(p); d !== '/'; d = dirname(d)) dirs.add(d);
  const entries: TarEntry[] = [
    ...[...dirs].sort().map((d): TarEntry => ({ type: 'dir', path: d, mode: 0o755 })),
    { type: 'dir', path: '/tmp', mode: 0o1777 },
    { type: 'text', path: '/etc/passwd', text: 'root:x:0:0:root:/root:/nonexistent\n', mode: 0o644 },
    { type: 'text', path: '/etc/group', text: 'root:x:0:\n', mode: 0o644 },
    ...[...files].map(([path, from]): TarEntry => ({ type: 'file', path, from, mode: 0o755 })),
    ...links.map((l): TarEntry => ({ type: 'symlink', ...l })),
  ];
  return {
    entries,
    libraryDirs: [...new Set([...libs.map((l) => dirname(l)), ...(tools?.libraryDirs ?? [])])],
  };
}

/** The image for this binary (and the pod network's tools when `podNetwork`): imported unless the engine
 * has it already. Returns its reference and the library directories (the container's LD_LIBRARY_PATH). */
export async function ensureAgentImage(
  docker: Docker,
  repository: string,
  binary: string,
  binarySha256: string,
  podNetwork: boolean,
): Promise<{ ref: string; libraryDirs: string[] }> {
  const tools = podNetwork ? await toolFiles() : undefined;
  const ref = imageRef(repository, binarySha256, tools?.sha256);
  const { entries, libraryDirs } = await imageEntries(binary, tools);
  if (await imagePresent(docker, ref)) return { ref, libraryDirs };
  const [repo, tag] = [repository, ref.slice(repository.length + 1)];
  const out = await docker.importImage(tarStream(entries), { repo, tag });
  const text = await new Promise<string>((resolve, reject) => {
    let s = '';
    out.on('data', (d: Buffer) => {
      s += d.toString();
    });
    out.on('end', () => resolve(s));
    out.on('error', reject);
  });
  const failed = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { error?: string })
    .find((m) => m.error);
  if (failed) throw new Error(`import ${ref}: ${failed.error}`);
  if (!(await imagePresent(docker, ref))) throw new Error(`import ${ref}: the engine does not list it`);
  return { ref, libraryDirs };
}
