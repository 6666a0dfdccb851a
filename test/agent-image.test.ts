// The agent's Docker image for a pod network carries the host's tools: every program the agent's code runs
// is among them, and each is found here with the libraries ldd names.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { lddLibraries, POD_NETWORK_TOOLS, toolFiles } from '../agent/op/agent-image.ts';
import { REPO } from './harness/cluster.ts';

/** Programs the agent's code (not the host-side ops of agent/op) runs by name. */
async function programsRun(): Promise<Set<string>> {
  const found = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (path !== join(REPO, 'agent', 'op')) await walk(path);
      } else if (e.name.endsWith('.ts')) {
        const text = await readFile(path, 'utf8');
        for (const m of text.matchAll(/\b(?:run|execFile|spawn)\(\s*'([\w.-]+)'/g)) found.add(m[1]!);
        // A table of [program, lines] run in turn (agent/routes/kernel.ts).
        for (const m of text.matchAll(/^\s*\['([\w.-]+)', [\w.]+\],$/gm)) found.add(m[1]!);
        // What nsenter runs in a namespace.
        for (const m of text.matchAll(/'nsenter', \[[^\]]*?`[^`]*`, '([\w.-]+)'/g)) found.add(m[1]!);
      }
    }
  };
  await walk(join(REPO, 'agent'));
  return found;
}

test('every program the agent runs is a tool of its image', async () => {
  const programs = await programsRun();
  for (const p of ['ip', 'bridge', 'nft', 'nsenter', 'conntrack'])
    assert.ok(programs.has(p), `scan finds ${p}`);
  assert.deepEqual(
    [...programs].filter((p) => !(p in POD_NETWORK_TOOLS)),
    [],
  );
});

test("the host's tools, with the libraries they load at their real paths and a link by each soname", async () => {
  const tools = await toolFiles();
  for (const name of Object.keys(POD_NETWORK_TOOLS))
    assert.ok(tools.files.has(`/usr/local/sbin/${name}`), name);
  const libs = await lddLibraries(tools.files.get('/usr/local/sbin/nft')!);
  assert.ok(
    libs.some((l) => /\/libnftables\.so\.\d+$/.test(l)),
    libs.join(' '),
  );
  for (const l of tools.links)
    assert.ok(tools.files.has(join(l.path, '..', l.target)), `${l.path} -> ${l.target}`);
  assert.ok(tools.libraryDirs.length > 0);
  assert.equal((await toolFiles()).sha256, tools.sha256, 'the same tools, the same digest');
});
