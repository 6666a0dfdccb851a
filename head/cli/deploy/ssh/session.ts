// One SSH connection to a node (ssh2): host key checked before authentication, key file or ssh-agent,
// commands with their argv quoted for the login shell, and SFTP uploads. Every failure is an Error whose
// message names the host; the caller adds the step.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import ssh2 from 'ssh2';
import { type ExpectedHostKeys, expectedHostKeys, hostKeyAccepted } from './host-key.ts';

const { Client } = ssh2; // CommonJS: no named exports

export interface SshTarget {
  /** Node name, for messages. */
  name: string;
  address: string;
  ssh: {
    user: string;
    port: number;
    key?: string | undefined;
    knownHosts?: string | undefined;
    hostKey?: string | undefined;
  };
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SshSession {
  exec(argv: string[]): Promise<ExecResult>;
  /** Upload a local file to a remote path (parent directories created), with the given mode. */
  upload(local: string, remote: string, mode: number): Promise<void>;
  /** Write bytes to a remote path (parent directories created), with the given mode. */
  write(remote: string, data: string | Buffer, mode: number): Promise<void>;
  exists(remote: string): Promise<boolean>;
  close(): void;
}

/** POSIX shell quoting of one argument (the remote side runs the command through the login shell). */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./=:,@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

export async function openSession(target: SshTarget, timeoutMs: number): Promise<SshSession> {
  const where = `${target.name} (${target.ssh.user}@${target.address}:${target.ssh.port})`;
  const expected: ExpectedHostKeys = await expectedHostKeys(target.address, target.ssh.port, target.ssh);
  const auth: { privateKey?: Buffer; agent?: string } = {};
  if (target.ssh.key !== undefined) auth.privateKey = await readFile(target.ssh.key);
  else if (process.env.SSH_AUTH_SOCK) auth.agent = process.env.SSH_AUTH_SOCK;
  else throw new Error(`${where}: no ssh.key in the config and no ssh-agent (SSH_AUTH_SOCK is not set)`);

  const client = new Client();
  let rejectedKey: Buffer | null = null;
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', (err) => {
      client.destroy();
      if (rejectedKey)
        reject(
          new Error(
            `${where}: host key ${fingerprint(rejectedKey)} does not match the key ${expected.source === 'pinned in the config' ? 'pinned in the config' : `in ${expected.source}`}; refusing to connect`,
          ),
        );
      else reject(new Error(`${where}: ${err.message}`));
    });
    client.connect({
      host: target.address,
      port: target.ssh.port,
      username: target.ssh.user,
      readyTimeout: timeoutMs,
      ...auth,
      hostVerifier: (key: Buffer) => {
        if (hostKeyAccepted(expected, key)) return true;
        rejectedKey = key;
        return false;
      },
    });
  });

  let sftp: ssh2.SFTPWrapper | null = null;
  const getSftp = async () => {
    sftp ??= await new Promise<ssh2.SFTPWrapper>((resolve, reject) =>
      client.sftp((err, s) => (err ? reject(new Error(`${where}: sftp: ${err.message}`)) : resolve(s))),
    );
    return sftp;
  };
  const mkdirs = async (s: ssh2.SFTPWrapper, dir: string): Promise<void> => {
    const exists = await new Promise<boolean>((resolve) => s.stat(dir, (err) => resolve(!err)));
    if (exists) return;
    await mkdirs(s, posix.dirname(dir));
    await new Promise<void>((resolve, reject) =>
      s.mkdir(dir, (err) => (err ? reject(new Error(`${where}: mkdir ${dir}: ${err.message}`)) : resolve())),
    );
  };

  const put = async (
    what: string,
    remote: string,
    send: (s: ssh2.SFTPWrapper, done: (err?: Error | null) => void) => void,
  ): Promise<void> => {
    const s = await getSftp();
    await mkdirs(s, posix.dirname(remote));
    await new Promise<void>((resolve, reject) =>
      send(s, (err) => (err ? reject(new Error(`${where}: ${what} ${remote}: ${err.message}`)) : resolve())),
    );
  };

  return {
    exec: (argv) =>
      new Promise((resolve, reject) => {
        client.exec(argv.map(shellQuote).join(' '), (err, stream) => {
          if (err) return reject(new Error(`${where}: ${err.message}`));
          let stdout = '';
          let stderr = '';
          stream.on('data', (d: Buffer) => {
            stdout += d;
          });
          stream.stderr.on('data', (d: Buffer) => {
            stderr += d;
          });
          stream.on('close', (code: number | null) => resolve({ code: code ?? -1, stdout, stderr }));
        });
      }),
    upload: (local, remote, mode) =>
      put('upload', remote, (s, done) => s.fastPut(local, remote, { mode }, done)),
    write: (remote, data, mode) =>
      put('write', remote, (s, done) => s.writeFile(remote, data, { mode }, done)),
    async exists(remote) {
      const s = await getSftp();
      return new Promise<boolean>((resolve) => s.stat(remote, (err) => resolve(!err)));
    },
    // A graceful end waits for the server's FIN; a host gone meanwhile (its network removed) would keep
    // the socket, and the process, alive for ever: destroyed after 1 s whatever happens.
    close: () => {
      client.end();
      setTimeout(() => client.destroy(), 1000).unref();
    },
  };
}
