// Clients run inside a network namespace (a pod's, a stand-in pod's, one beyond a node): a Node child
// process started by `enter` (`ip netns exec <ns>` or `nsenter --net=<path>`), so every packet is the
// namespace's own. HTTP GETs each on a new connection, and a TCP connection held open.
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { eventually } from './cluster.ts';

const run = promisify(execFile);

/** The command prefix that runs a program in a namespace: by name (`ip netns`) or by path (`nsenter`). */
export const inNetns = (ns: string): string[] =>
  ns.startsWith('/') ? ['nsenter', `--net=${ns}`] : ['ip', 'netns', 'exec', ns];

/** `count` GETs of `url`, each on its own connection, one after another: the bodies, trimmed, or
 * `error: <why>` (a 3 s timeout each). insecureHTTPParser: busybox httpd passes a CGI's headers on with
 * bare LFs. */
export async function httpGets(ns: string, url: string, count: number): Promise<string[]> {
  const script = `const http = require('http');
(async () => {
  const out = [];
  for (let i = 0; i < ${count}; i++)
    out.push(await new Promise((resolve) => {
      const req = http.get(${JSON.stringify(url)}, { agent: false, timeout: 3000, insecureHTTPParser: true }, (res) => {
        let b = '';
        res.on('data', (d) => (b += d));
        res.on('end', () => resolve(b.trim()));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve('error: ' + e.message));
    }));
  console.log(JSON.stringify(out));
})();`;
  const [cmd, ...args] = inNetns(ns);
  const { stdout } = await run(cmd!, [...args, process.execPath, '-e', script], {
    timeout: 30_000 + count * 3000,
  });
  return JSON.parse(stdout) as string[];
}

/** A Node script run in a namespace until killed (a server of a pod, as far as the network goes), with
 * `args` as its process.argv[1...]; `children` collects it for the caller's cleanup. */
export function serveInNetns(
  ns: string,
  script: string,
  children: ChildProcessWithoutNullStreams[],
  args: string[] = [],
): ChildProcessWithoutNullStreams {
  const [cmd, ...prefix] = inNetns(ns);
  const child = spawn(cmd!, [...prefix, process.execPath, '-e', script, ...args]);
  children.push(child);
  return child;
}

export interface HeldConnection {
  /** Sends a line; resolves once it came back (an echo server at the other end), rejects when the
   * connection closed or after 10 s. */
  echo(text: string): Promise<void>;
  close(): void;
}

/** A TCP connection from the namespace to host:port, kept open until close() (or the process ends:
 * `children` collects the client for the caller's cleanup). */
export async function holdConnection(
  ns: string,
  host: string,
  port: number,
  children: ChildProcessWithoutNullStreams[],
): Promise<HeldConnection> {
  const [cmd, ...args] = inNetns(ns);
  const child = spawn(cmd!, [
    ...args,
    process.execPath,
    '-e',
    `const s = require('net').connect(${port}, '${host}', () => console.log('connected'));
process.stdin.pipe(s); s.pipe(process.stdout);
s.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
s.on('close', () => { console.log('closed'); process.exit(0); });`,
  ]);
  children.push(child);
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  await eventually(
    () => {
      if (out.includes('error') || out.includes('closed'))
        throw new Error(`connection to ${host}:${port}: ${out}`);
      return out.includes('connected');
    },
    10_000,
    `a connection to ${host}:${port}`,
  );
  return {
    async echo(text) {
      child.stdin.write(`${text}\n`);
      await eventually(
        () => {
          if (out.includes('closed') || out.includes('error ')) throw new Error(`connection lost: ${out}`);
          return out.includes(`${text}\n`);
        },
        10_000,
        `the echo of ${text}`,
      );
    },
    close: () => child.kill('SIGKILL'),
  };
}
