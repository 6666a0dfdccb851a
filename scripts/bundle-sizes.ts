// What the bundle is made of: bytes of dist/nokube.cjs per package (or per top folder of ours), largest
// first, from the metafile `npm run build` writes. `node scripts/bundle-sizes.ts [--top 30]`
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { top: { type: 'string', default: '30' } } });
const meta = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'dist', 'meta.json'), 'utf8')) as {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
};
/** node_modules/@scope/name/… → @scope/name; node_modules/name/… → name; agent/x/… → agent/x. */
function groupOf(path: string): string {
  const parts = path.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return parts.slice(0, 2).join('/');
  const name = parts[at + 1] ?? path;
  return name.startsWith('@') ? `${name}/${parts[at + 2]}` : name;
}
const sizes = new Map<string, number>();
let total = 0;
for (const out of Object.values(meta.outputs))
  for (const [path, { bytesInOutput }] of Object.entries(out.inputs)) {
    sizes.set(groupOf(path), (sizes.get(groupOf(path)) ?? 0) + bytesInOutput);
    total += bytesInOutput;
  }
const kb = (n: number) => `${(n / 1024).toFixed(0).padStart(6)} KB`;
console.log(`${kb(total)}  total`);
for (const [group, bytes] of [...sizes].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
  console.log(`${kb(bytes)}  ${group}`);
