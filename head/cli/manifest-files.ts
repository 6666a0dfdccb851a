// `-f <file|dir|->` for apply and delete: files read in order, a directory's *.yaml, *.yml and *.json
// sorted by name, "-" for stdin; then the documents validated together (errors name the file).
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../agent/errors.ts';
import type { Manifest, RawDocument } from '../../agent/objects/validate.ts';

export const collect = (value: string, previous: string[]) => [...previous, value];

/** --server/--etcd/--cluster: how object commands find a head. */
export function headOptions(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'head API URL (env NOKUBE_SERVER); default: a head found in etcd')
    .option('--etcd <urls>', 'etcd endpoints, comma-separated (env NOKUBE_ETCD)')
    .option('--cluster <name>', 'cluster name (env NOKUBE_CLUSTER)');
}

export async function readManifestFiles(
  paths: string[],
): Promise<{ docs: RawDocument[]; manifests: Manifest[] }> {
  if (paths.length === 0) throw new UsageError('-f <file|dir|-> is required');
  // The validator (the object schemas, ~0.1 s to load) only for commands that read manifests.
  const { ManifestError, parseManifestText, validateDocuments } = await import(
    '../../agent/objects/validate.ts'
  );
  const docs: RawDocument[] = [];
  const problems: string[] = [];
  for (const path of paths) {
    for (const file of await expand(path, problems)) {
      try {
        const text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
        docs.push(...parseManifestText(text, file));
      } catch (err) {
        if (err instanceof ManifestError) problems.push(...err.problems);
        else problems.push(`${file}: cannot read: ${(err as Error).message}`);
      }
    }
  }
  if (problems.length > 0) throw new ManifestError(problems);
  if (docs.length === 0) throw new ManifestError([`${paths.join(', ')}: no objects found`]);
  return { docs, manifests: validateDocuments(docs) };
}

async function expand(path: string, problems: string[]): Promise<string[]> {
  if (path === '-') return ['-'];
  try {
    if (!(await stat(path)).isDirectory()) return [path];
  } catch {
    problems.push(`${path}: no such file or directory`);
    return [];
  }
  const names = (await readdir(path)).filter((n) => /\.(ya?ml|json)$/.test(n)).sort();
  return names.map((n) => join(path, n));
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
