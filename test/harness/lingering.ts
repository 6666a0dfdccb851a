// Loaded into every test process (`--import` in package.json's test script). A test file whose tests
// all passed but whose process stays alive (a socket, a child, a server left open) was cancelled by
// the runner at the file timeout, 600 s later, saying nothing of what held it (CI on 848f1a9:
// test/deploy-etcd.test.ts). Here, once the file's last hook has run, a process still alive after
// LINGER_MS names what holds it and exits 1: the file fails at once, with the reason.
import { ChildProcess } from 'node:child_process';
import { Server, Socket } from 'node:net';
import { after } from 'node:test';

/** How long after the last hook (NOKUBE_TEST_LINGER_MS: test/lingering.test.ts shortens it). */
const LINGER_MS = Number(process.env.NOKUBE_TEST_LINGER_MS ?? 20_000);

/** Timers, with where they were set: a referenced one holds the process too (`_getActiveHandles` does
 * not list timers), and one re-armed in a loop never ends (etcd3's lease keepalive on a closed client). */
const timers = new Map<NodeJS.Timeout, string>();
let pruneAt = 10_000;
for (const name of ['setTimeout', 'setInterval'] as const) {
  const original = globalThis[name] as (...args: unknown[]) => NodeJS.Timeout;
  const traced = (...args: unknown[]): NodeJS.Timeout => {
    const timer = original(...args);
    if (timers.size >= pruneAt) {
      for (const t of timers.keys()) if (!isLive(t)) timers.delete(t);
      pruneAt = Math.max(10_000, timers.size * 2);
    }
    const where = (new Error().stack ?? '')
      .split('\n')
      .slice(2, 6)
      .map((l) => l.trim());
    timers.set(timer, `${name} ${String(args[1] ?? 0)} ms, set ${where.join(' < ')}`);
    return timer;
  };
  // Its own properties too (util.promisify.custom: `promisify(setTimeout)` keeps working).
  Object.defineProperties(traced, Object.getOwnPropertyDescriptors(original));
  Object.assign(globalThis, { [name]: traced });
}
const isLive = (t: NodeJS.Timeout) => t.hasRef() && !(t as unknown as { _destroyed: boolean })._destroyed;

after(() => {
  setTimeout(() => {
    const held = describeHandles();
    for (const [t, what] of timers) if (isLive(t)) held.push(what);
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
