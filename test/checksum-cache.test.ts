// The checksum cache a deploy's no-change rerun relies on: a file whose identity (inode, size, mtime,
// ctime) is unchanged is not hashed again; any write or replacement is.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cachedFileSha256, recordSha256 } from '../agent/op/checksum.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

test('cached sums: served while the file is the same, recomputed after a write or a rename over it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nokube-sums-'));
  const file = join(dir, 'bin');
  const cache = join(dir, 'sums.json');
  await writeFile(file, 'one');
  assert.equal(await cachedFileSha256(file, cache), sha('one'));
  // Served from the cache: a planted (wrong) sum for the same identity comes back unhashed.
  const planted = JSON.parse(await readFile(cache, 'utf8'));
  planted[file].sha256 = 'f'.repeat(64);
  await writeFile(cache, JSON.stringify(planted));
  assert.equal(await cachedFileSha256(file, cache), 'f'.repeat(64));
  // A write changes the identity: hashed again.
  await writeFile(file, 'two');
  assert.equal(await cachedFileSha256(file, cache), sha('two'));
  // A file renamed over it (an install): hashed again.
  await writeFile(join(dir, 'new'), 'three');
  await rename(join(dir, 'new'), file);
  assert.equal(await cachedFileSha256(file, cache), sha('three'));
  // recordSha256 (after an install checked the upload) is what the next read gets.
  await recordSha256(file, 'a'.repeat(64), cache);
  assert.equal(await cachedFileSha256(file, cache), 'a'.repeat(64));
  // A torn cache file is no error: the sum is computed.
  await writeFile(cache, '{"torn');
  assert.equal(await cachedFileSha256(file, cache), sha('three'));
});
