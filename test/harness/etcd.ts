// A real etcd for tests (Debian etcd-server): its own free ports and temp data dir, stopped afterwards.
// Never a mock: if /usr/bin/etcd is missing the test fails with the install hint.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { findOnPath } from '../../agent/op/processes.ts';
import { connectEtcd, createEtcd } from '../../agent/store/etcd.ts';
import { type CertFiles, makeCa, signCert, type TestCa } from './certs.ts';
import { freePorts } from './ports.ts';

export interface TestEtcd {
  url: string;
  /** With tls: the CA (to sign more client certificates) and one client certificate. */
  ca?: TestCa;
  clientTls?: CertFiles;
  dataDir: string;
  process: ChildProcess;
  stop(): Promise<void>;
  /** Stop the process but keep the data (to simulate an outage); start() brings it back on the same port. */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/** host: the address etcd listens on (the deploy tests use the gateway of their netns hosts). With `tls`,
 * clients must present a certificate of the test CA (made in the data dir); `clientTls` is one. */
export async function startTestEtcd(host = '127.0.0.1', opts: { tls?: boolean } = {}): Promise<TestEtcd> {
  const bin = findOnPath('etcd');
  if (!bin) throw new Error('etcd not found: apt-get install etcd-server (the test suite needs a real etcd)');
  const dataDir = await mkdtemp(join(tmpdir(), 'nokube-test-etcd-'));
  const [clientPort, peerPort] = (await freePorts(2, host)) as [number, number];
  const url = `${opts.tls ? 'https' : 'http'}://${host}:${clientPort}`;
  let ca: TestCa | undefined;
  let clientTls: CertFiles | undefined;
  const tlsArgs: string[] = [];
  if (opts.tls) {
    const certDir = join(dataDir, 'certs');
    await mkdir(certDir);
    ca = makeCa(certDir);
    const server = signCert(ca, 'server', host);
    clientTls = signCert(ca, 'client');
    tlsArgs.push('--cert-file', server.cert, '--key-file', server.key);
    tlsArgs.push('--client-cert-auth', '--trusted-ca-file', ca.cert);
  }
  const peer = `http://${host}:${peerPort}`;
  const args = [
    '--name',
    'test',
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    url,
    '--advertise-client-urls',
    url,
    '--listen-peer-urls',
    peer,
    '--initial-advertise-peer-urls',
    peer,
    '--initial-cluster',
    `test=${peer}`,
    '--log-level',
    'error',
    ...tlsArgs,
  ];
  const launch = async () => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`etcd exited ${child.exitCode}: ${stderr}`);
      const c = await createEtcd({
        endpoints: [url],
        dialTimeoutMs: 1000,
        ...(clientTls ? { tls: clientTls } : {}),
      });
      try {
        await c.get('probe').string();
        return child;
      } catch {
        if (Date.now() > deadline) throw new Error(`etcd did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        c.close();
      }
    }
  };
  const kill = async (child: ChildProcess) => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  const etcd: TestEtcd = {
    url,
    ...(ca && clientTls ? { ca, clientTls } : {}),
    dataDir,
    process: await launch(),
    async stop() {
      await kill(etcd.process);
      await rm(dataDir, { recursive: true, force: true });
    },
    async pause() {
      await kill(etcd.process);
    },
    async resume() {
      etcd.process = await launch();
    },
  };
  return etcd;
}

/** A suite's etcd and one client of it, started before its tests and stopped after them (node:test's
 * hooks); read `server` and `client` inside tests. */
export function suiteEtcd(): { readonly server: TestEtcd; readonly client: Etcd3 } {
  let server: TestEtcd | undefined;
  let client: Etcd3 | undefined;
  before(async () => {
    server = await startTestEtcd();
    client = await connectEtcd({ endpoints: [server.url], dialTimeoutMs: 3000 });
  });
  after(async () => {
    client?.close();
    await server?.stop();
  });
  return {
    get server() {
      if (!server) throw new Error('suiteEtcd: read inside a test, after its before hook');
      return server;
    },
    get client() {
      if (!client) throw new Error('suiteEtcd: read inside a test, after its before hook');
      return client;
    },
  };
}
