// The README and the example configs stay true: example configs validate, the key table matches keys.ts,
// every documented default matches the schema, and the version matches package.json.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DOCUMENTED_DEFAULTS } from '../agent/config/defaults.ts';
import { CONFIG_TEMPLATE } from '../agent/config/template.ts';
import { loadConfigFile } from '../agent/config/validate.ts';
import {
  formatBytes,
  MAX_APPLY_BYTES,
  MAX_BODY_BYTES,
  MAX_BODY_DEPTH,
  MAX_CONTAINERS_PER_POD,
  MAX_DOCUMENTS_PER_APPLY,
  MAX_OBJECT_BYTES,
} from '../agent/objects/limits.ts';
import { MAX_CONCURRENT_PROBES, MAX_QUEUED_PROBES } from '../agent/pods/probes/slots.ts';
import { keys } from '../agent/store/keys.ts';
import { VERSION } from '../agent/version.ts';
import { REPO } from './harness/cluster.ts';

test('every example config validates; cluster.example.yaml is the template', async () => {
  const dir = join(REPO, 'configs');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 2);
  for (const f of files) await loadConfigFile(join(dir, f));
  assert.equal(await readFile(join(dir, 'cluster.example.yaml'), 'utf8'), CONFIG_TEMPLATE);
});

test('the example configs pin a GreptimeDB release that takes X-Greptime-Log-Extract-Keys (>= 0.10)', async () => {
  const dir = join(REPO, 'configs');
  const images: string[] = [];
  for (const f of (await readdir(dir)).filter((f) => f.endsWith('.yaml'))) {
    const text = await readFile(join(dir, f), 'utf8');
    // Commented-out examples count too: they are what an operator uncomments.
    images.push(...[...text.matchAll(/greptime\/greptimedb[^\s}]*/g)].map((m) => `${f}: ${m[0]}`));
    const image = (await loadConfigFile(join(dir, f))).config.monitoring?.greptimedb.container?.image;
    if (image) assert.ok(text.includes(image));
  }
  assert.ok(images.length >= 2, `GreptimeDB images in the examples: ${images.join(', ')}`);
  for (const i of images) {
    const m = /: greptime\/greptimedb:v(\d+)\.(\d+)\.(\d+)$/.exec(i);
    assert.ok(m, `${i}: a pinned release tag (vX.Y.Z), not latest`);
    const [major, minor] = [Number(m[1]), Number(m[2])];
    assert.ok(major >= 1 || minor >= 10, `${i}: GreptimeDB >= 0.10 (the extract-keys header)`);
  }
});

test('README documents the key layout and defaults the code uses', async () => {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  for (const key of [
    keys.config('<cluster>'),
    keys.configHistory('<cluster>', 0).replace(/0+$/, ''),
    keys.node('<cluster>', '<node>'),
  ]) {
    assert.ok(readme.includes(key.replace(/\/$/, '')), `README mentions ${key}`);
  }
  for (const [field, value] of Object.entries(DOCUMENTED_DEFAULTS)) {
    const name = field.replace('nodes[].', 'nodes[].');
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${name}\``));
    assert.ok(row, `README has a row for ${name}`);
    assert.ok(
      row.includes(`\`${JSON.stringify(value)}\``) || row.includes(`\`${value}\``),
      `README row for ${name} says ${JSON.stringify(value)}`,
    );
  }
});

test('the version is package.json’s', async () => {
  const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
});

test("the README's Limits table says the limits the code enforces", async () => {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('#### Limits'), readme.indexOf('### Workloads'));
  const value = (row: string) =>
    section
      .split('\n')
      .find((l) => l.startsWith(`| ${row}`))
      ?.split('|')[2]
      ?.trim();
  assert.equal(value('Request body'), formatBytes(MAX_BODY_BYTES));
  assert.equal(value('Nesting'), `${MAX_BODY_DEPTH} levels`);
  assert.equal(value('One object'), formatBytes(MAX_OBJECT_BYTES));
  assert.equal(value('One status'), formatBytes(MAX_OBJECT_BYTES));
  assert.equal(value('What one apply writes'), formatBytes(MAX_APPLY_BYTES));
  assert.equal(value('Documents per apply'), String(MAX_DOCUMENTS_PER_APPLY));
  assert.equal(value('Containers per pod'), String(MAX_CONTAINERS_PER_POD));
});

test("the README's bounds on probes are the agent's", async () => {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  assert.ok(readme.includes(`\`MAX_CONCURRENT_PROBES\` (${MAX_CONCURRENT_PROBES})`));
  assert.ok(readme.includes(`\`MAX_QUEUED_PROBES\` (${MAX_QUEUED_PROBES})`));
});
