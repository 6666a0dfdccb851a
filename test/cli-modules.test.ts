// What the command line evaluates before it runs a command: every command is registered at start, so a
// command file's top-level imports are paid by every `nokube` run. The etcd client (etcd3, grpc-js,
// protobufjs, cockatiel) and the WebSocket client load only inside the commands that use them: head-client
// remembers the heads so that most commands never dial etcd, and that saving was lost while `get` imported
// the etcd code for a name helper (every `nokube --version` evaluated ~1,000 modules, ~0.1 s of start).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { REPO } from './harness/cluster.ts';

/** Packages loaded (from node_modules) once head/cli/program.ts and what it imports are evaluated. */
function packagesAfterImport(module: string): string[] {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(module)});
    const cache = createRequire(import.meta.url).cache;
    const names = new Set(Object.keys(cache).map((p) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(p)?.[1]).filter(Boolean));
    console.log(JSON.stringify([...names].sort()));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: REPO,
    encoding: 'utf8',
  });
  return JSON.parse(out) as string[];
}

test('the command line starts without the etcd client or the WebSocket client', () => {
  const loaded = packagesAfterImport('./head/cli/program.ts');
  for (const heavy of ['etcd3', '@grpc/grpc-js', 'protobufjs', 'cockatiel', 'ws'])
    assert.ok(!loaded.includes(heavy), `${heavy} is loaded at the CLI's start: ${loaded.join(', ')}`);
  // The check can see a package at all: what the CLI does use is listed.
  assert.ok(loaded.includes('commander'), loaded.join(', '));
});
