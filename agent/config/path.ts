// Field paths for `nokube config get/set`: `mesh.port`, `nodes[0].labels.zone`, `nodes.edge-1.labels.zone`.
// In the `nodes` list an item can be named by its `name` instead of its index.
import { type Document, isMap, isSeq, parseDocument } from 'yaml';

export type PathSegment = string | number;

export function parsePath(text: string): PathSegment[] {
  if (text.trim() === '') return [];
  const out: PathSegment[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    const between = text.slice(consumed, m.index);
    if (between !== '' && between !== '.') throw new Error(`bad path "${text}" near "${between}"`);
    out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
    consumed = m.index + m[0].length;
  }
  if (consumed !== text.length) throw new Error(`bad path "${text}"`);
  return out;
}

/** Resolve name segments inside sequences (nodes.edge-1 -> nodes[3]); throws naming the missing part. */
export function resolvePath(doc: Document, path: PathSegment[], forWrite: boolean): PathSegment[] {
  const resolved: PathSegment[] = [];
  let node: unknown = doc.contents;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (isSeq(node)) {
      let index: number;
      if (typeof seg === 'number' || /^\d+$/.test(seg)) index = Number(seg);
      else {
        index = node.items.findIndex((item) => isMap(item) && item.get('name') === seg);
        if (index < 0) throw new Error(`${fmt(resolved)}: no item named "${seg}"`);
      }
      if (index >= node.items.length && !(forWrite && last && index === node.items.length)) {
        throw new Error(
          `${fmt([...resolved, index])}: index out of range (the list has ${node.items.length})`,
        );
      }
      resolved.push(index);
      node = node.items[index];
    } else if (isMap(node)) {
      const key = String(seg);
      if (!node.has(key) && !forWrite) throw new Error(`${fmt([...resolved, key])}: not set`);
      resolved.push(key);
      node = node.get(key, true);
    } else if (node === undefined || node === null) {
      if (!forWrite) throw new Error(`${fmt([...resolved, seg])}: not set`);
      resolved.push(seg);
    } else {
      throw new Error(`${fmt(resolved)}: is a scalar, cannot go into "${seg}"`);
    }
  }
  return resolved;
}

export function getAtPath(doc: Document, pathText: string): unknown {
  const path = resolvePath(doc, parsePath(pathText), false);
  if (path.length === 0) return doc.toJS();
  const value = doc.getIn(path, true) as { toJSON?: () => unknown } | undefined;
  return value && typeof value === 'object' && 'toJSON' in value
    ? (value as { toJSON(): unknown }).toJSON()
    : value;
}

/** Set a value given as YAML text (`3`, `true`, `{a: b}`, `text`) at a path, keeping the document's comments. */
export function setAtPath(doc: Document, pathText: string, valueText: string): void {
  const path = resolvePath(doc, parsePath(pathText), true);
  if (path.length === 0) throw new Error('refusing to replace the whole config; use `nokube config edit`');
  const parsed = parseDocument(valueText);
  if (parsed.errors.length > 0)
    throw new Error(`value is not valid YAML: ${parsed.errors[0]!.message.split('\n')[0]}`);
  doc.setIn(path, doc.createNode(parsed.toJS()));
}

export function unsetAtPath(doc: Document, pathText: string): void {
  const path = resolvePath(doc, parsePath(pathText), false);
  if (path.length === 0) throw new Error('refusing to delete the whole config');
  doc.deleteIn(path);
}

function fmt(path: PathSegment[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('') || '(root)';
}
