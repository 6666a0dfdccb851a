// What the command line evaluates before it runs a command: every command is registered at start, so a
// command file's top-level imports are paid by every `nokube` run. The etcd client (etcd3, grpc-js,
// protobufjs, cockatiel), the WebSocket client and the object validator (zod) load only inside the commands
// that use them: head-client remembers the heads so that most commands never dial etcd, and that saving
// was lost while `get` imported the etcd code for a name helper (every `nokube --version` evaluated 1,048
// modules, 0.30 s here; now 350, 0.14–0.19 s).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { REPO } from './harness/cluster.ts';

/** The packages (under node_modules) resolved while `modules` are imported in turn, after each. */
function packagesAfterImports(modules: string[]): string[][] {
  const script = `
    import { registerHooks } from 'node:module';
    const seen = new Set();
    registerHooks({
      resolve(specifier, context, next) {
        const r = next(specifier, context);
        const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(r.url);
        if (m) seen.add(m[1]);
        return r;
      },
    });
    const out = [];
    for (const m of ${JSON.stringify(modules)}) {
      await import(m);
      out.push([...seen].sort());
    }
    console.log(JSON.stringify(out));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: REPO,
    encoding: 'utf8',
  });
  return JSON.parse(out) as string[][];
}

test('the command line starts without the etcd client, the WebSocket client or the validator', () => {
  const [atStart, , withCommands] = packagesAfterImports([
    './head/cli/program.ts',
    // What commands load when they run (apply's validator, the etcd code): seen once they are loaded.
    './agent/objects/validate.ts',
    './agent/services/release.ts',
  ]);
  for (const heavy of ['etcd3', '@grpc/grpc-js', 'protobufjs', 'cockatiel', 'ws', 'zod'])
    assert.ok(!atStart!.includes(heavy), `${heavy} is loaded at the CLI's start: ${atStart!.join(', ')}`);
  assert.ok(atStart!.includes('commander'), atStart!.join(', '));
  assert.ok(withCommands!.includes('zod') && withCommands!.includes('etcd3'), withCommands!.join(', '));
});
