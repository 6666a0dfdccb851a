// Parse and validate cluster-config YAML: one problem per line, each naming file, line, and field path.
import { readFile } from 'node:fs/promises';
import { type Document, isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type ClusterConfig, clusterConfigSchema, crossFieldProblems } from './schema.ts';

export interface ConfigProblem {
  /** Field path as written by users: `nodes[1].address`. Empty for the whole document. */
  path: string;
  message: string;
  line?: number;
}

export class ConfigError extends Error {
  readonly source: string;
  readonly problems: ConfigProblem[];
  constructor(source: string, problems: ConfigProblem[]) {
    super(problems.map((p) => formatProblem(source, p)).join('\n'));
    this.name = 'ConfigError';
    this.source = source;
    this.problems = problems;
  }
}

export function formatProblem(source: string, p: ConfigProblem): string {
  const where = p.line === undefined ? source : `${source}:${p.line}`;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

export interface ValidConfig {
  config: ClusterConfig;
  /** The YAML document (comments kept) so edits can be written back faithfully. */
  doc: Document;
  text: string;
}

/** Validate YAML text. `source` names where it came from (a file path or an etcd key) in messages. */
export function validateConfigText(text: string, source: string): ValidConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => ({
        path: '',
        message: `invalid YAML: ${e.message.split('\n')[0]}`,
        line: lineCounter.linePos(e.pos[0]).line,
      })),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined)
    throw new ConfigError(source, [{ path: '', message: 'the file is empty' }]);
  const lineOf = (path: ReadonlyArray<PropertyKey>): number | undefined => lineOfPath(doc, lineCounter, path);
  const parsed = clusterConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      source,
      parsed.error.issues.flatMap((issue) => describeIssue(issue, raw, lineOf)),
    );
  }
  const cross = crossFieldProblems(parsed.data);
  if (cross.length > 0) {
    throw new ConfigError(
      source,
      cross.map(([path, message]) => ({ path: formatPath(path), message, line: lineOf(path) })),
    );
  }
  return { config: parsed.data, doc, text };
}

export async function loadConfigFile(file: string): Promise<ValidConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [
      { path: '', message: code === 'ENOENT' ? 'no such file' : `cannot read: ${(err as Error).message}` },
    ]);
  }
  return validateConfigText(text, file);
}

export function describeIssue(
  issue: z.core.$ZodIssue,
  raw: unknown,
  lineOf: (p: ReadonlyArray<PropertyKey>) => number | undefined,
): ConfigProblem[] {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const full = [...path, key];
      return { path: formatPath(full), message: 'unknown field', line: lineOf(full) };
    });
  }
  let message = issue.message;
  if (issue.code === 'invalid_type') {
    const actual = valueAt(raw, path);
    message =
      actual === undefined
        ? 'required field is missing'
        : `expected ${issue.expected}, got ${kindOf(actual)}`;
  } else if (issue.code === 'invalid_key') {
    message = issue.issues[0]?.message ?? message;
  } else if (issue.code === 'invalid_value') {
    message = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  } else if (issue.code === 'invalid_format' && issue.format === 'url') {
    message = 'must be a URL such as http://10.0.0.1:2379';
  } else if (issue.code === 'too_small' && issue.origin === 'number') {
    // positive() is an exclusive minimum: "must be >= 0" would let 0 through.
    message = `must be ${issue.inclusive === false ? '>' : '>='} ${issue.minimum}`;
  } else if (issue.code === 'too_big' && issue.origin === 'number') {
    message = `must be ${issue.inclusive === false ? '<' : '<='} ${issue.maximum}`;
  }
  return [{ path: formatPath(path), message, line: lineOf(path) ?? lineOf(path.slice(0, -1)) }];
}

function valueAt(raw: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let cur: unknown = raw;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

export function lineOfPath(
  doc: Document,
  lc: LineCounter,
  path: ReadonlyArray<PropertyKey>,
): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === seg);
      if (!pair) return offset === undefined ? undefined : lc.linePos(offset).line;
      offset = (pair.key as { range?: [number, number, number] }).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      offset = (node as { range?: [number, number, number] } | undefined)?.range?.[0] ?? offset;
    } else break;
  }
  if (offset === undefined) {
    const start = (doc.contents as { range?: [number, number, number] } | null)?.range?.[0];
    return start === undefined ? undefined : lc.linePos(start).line;
  }
  return lc.linePos(offset).line;
}
