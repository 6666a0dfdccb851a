// package-lock.json is whole: `npm ci` (scripts/install-deps.sh) refuses a lock file that lacks some
// platform's optional packages (esbuild's and biome's binaries: one package per OS and CPU), and a lock
// file written on one machine must install on every other.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from './harness/cluster.ts';

interface LockEntry {
  version?: string;
  optionalDependencies?: Record<string, string>;
}

/** Where node would find `dep` from the package at `from` (a lock path): its own node_modules, then up. */
function resolve(packages: Record<string, LockEntry>, from: string, dep: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = `${dir ? `${dir}/` : ''}node_modules/${dep}`;
    if (packages[candidate]) return candidate;
    if (!dir) return undefined;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut < 0 ? '' : dir.slice(0, cut);
  }
}

test('the lock file holds every optional package of every platform', async () => {
  const lock = JSON.parse(await readFile(join(REPO, 'package-lock.json'), 'utf8')) as {
    lockfileVersion: number;
    packages: Record<string, LockEntry>;
  };
  assert.equal(lock.lockfileVersion, 3);
  const missing: string[] = [];
  let optional = 0;
  for (const [path, entry] of Object.entries(lock.packages)) {
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
      optional++;
      if (!resolve(lock.packages, path, dep)) missing.push(`${path || '(root)'} -> ${dep}`);
    }
  }
  assert.deepEqual(
    missing,
    [],
    'optional packages missing from package-lock.json (regenerate it: README "Development")',
  );
  // esbuild and biome alone bring more than 30: a check that found none checked nothing.
  assert.ok(optional > 30, `only ${optional} optional dependencies found`);
});
