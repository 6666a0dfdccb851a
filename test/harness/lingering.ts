// Loaded into every test process (`--import` in package.json's test script). A test file whose tests
// all passed but whose process stays alive (a socket, a child, a server left open) was cancelled by
// the runner at the file timeout, 600 s later, saying nothing of what held it (CI on 848f1a9:
// test/deploy-etcd.test.ts). Here, once the file's last hook has run, a process still alive after
// LINGER_MS names what holds it and exits 1: the file fails at once, with the reason.
import { ChildProcess } from 'node:child_process';
import { Server, Socket } from 'node:net';
import { after } from 'node:test';

const LINGER_MS = 20_000;

after(() => {
  setTimeout(() => {
    const held = describeHandles();
    process.stderr.write(
      `# this test process is still alive ${LINGER_MS / 1000} s after its last hook; what holds it:\n` +
        `#   ${held.join('\n#   ') || '(no handle: a pending request or a referenced timer)'}\n` +
        `#   resources: ${process.getActiveResourcesInfo().join(', ')}\n`,
    );
    process.exit(1);
  }, LINGER_MS).unref();
});

/** Each live handle, said with what identifies it (a socket's ends, a child's command line). */
function describeHandles(): string[] {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.flatMap((h): string[] => {
    if (h instanceof ChildProcess) return [`child process ${h.pid}: ${h.spawnargs.join(' ')}`];
    if (h instanceof Socket) {
      if (h === process.stdout || h === process.stderr || h === process.stdin) return [];
      return h.remoteAddress
        ? [`socket ${h.localAddress}:${h.localPort} → ${h.remoteAddress}:${h.remotePort}`]
        : [`socket (pipe or unix${h.destroyed ? ', destroyed' : ''})`];
    }
    if (h instanceof Server) return [`server listening on ${JSON.stringify(h.address())}`];
    return [`${(h as object).constructor?.name ?? typeof h}`];
  });
}
