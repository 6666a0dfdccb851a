// The node resolver on real sockets (agent/dns/server.ts): a dns-packet client asks it over UDP and TCP,
// names of the cluster domain are answered from the zone, others forwarded to a fake upstream we control
// (answered; silent: SERVFAIL at the deadline; past the in-flight bound: SERVFAIL at once); answers over
// 512 bytes are truncated over UDP and whole over TCP. The zone comes from a real etcd through the shared
// informers, and from the workspace cache when etcd is away (agent restarted cut off).
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Answer, decode, encode, type Packet } from '@dnsquery/dns-packet';
import type { Etcd3 } from 'etcd3';
import { FORWARD_DEADLINE_MS } from '../agent/dns/forward.ts';
import { HostResolv } from '../agent/dns/host-resolv.ts';
import { DnsServer, MAX_FORWARDS } from '../agent/dns/server.ts';
import { buildZone, Zone } from '../agent/dns/zone.ts';
import { ZoneSource } from '../agent/dns/zone-source.ts';
import { createLogger } from '../agent/log/logger.ts';
import { createObjects } from '../agent/objects/store.ts';
import type { EndpointSlice, Service } from '../agent/objects/types.ts';
import { connectEtcd, createEtcd } from '../agent/store/etcd.ts';
import { eventually } from './harness/cluster.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { objectMeta } from './harness/object-meta.ts';
import { freePorts } from './harness/ports.ts';

const log = createLogger({ test: 'dns-server' }, 'silent');
const HOST = '127.0.0.1';
const service = (name: string, spec: Service['spec']): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: objectMeta(name),
  spec,
});
const slice = (svc: string, ips: string[]): EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: objectMeta(`${svc}-abcde`, { labels: { 'kubernetes.io/service-name': svc } }),
  addressType: 'IPv4',
  endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  ports: [],
});
/** 60 endpoints: about 2.4 KB of A records. */
const MANY = Array.from({ length: 60 }, (_, i) => `10.42.${Math.floor(i / 200)}.${(i % 200) + 2}`);
const ZONE = new Zone(
  buildZone(
    [
      service('web', { clusterIP: '10.43.0.10', ports: [{ port: 80 }] }),
      service('big', { clusterIP: 'None' }),
      service('ext', { type: 'ExternalName', externalName: 'outside.example' }),
      service('inner', { type: 'ExternalName', externalName: 'web.default.svc.cluster.local' }),
      service('gone', { type: 'ExternalName', externalName: 'unknown.example' }),
    ],
    [slice('big', MANY)],
  ),
);

interface Asked {
  packet: Packet;
  ms: number;
}
let nextId = 1;
async function askUdp(port: number, name: string, type = 'A', edns?: number): Promise<Asked> {
  const socket = createSocket('udp4');
  const id = nextId++ & 0xffff;
  const query: Packet = {
    type: 'query',
    id,
    flags: 1 << 8,
    questions: [{ name, type: type as 'A' }],
    ...(edns ? { additionals: [{ name: '.', type: 'OPT', udpPayloadSize: edns } as unknown as Answer] } : {}),
  };
  const started = Date.now();
  try {
    return await new Promise<Asked>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${name} in 5 s`)), 5000);
      socket.on('message', (msg) => {
        clearTimeout(timer);
        resolve({ packet: decode(msg), ms: Date.now() - started });
      });
      socket.send(encode(query), port, HOST);
    });
  } finally {
    socket.close();
  }
}
async function askTcp(port: number, name: string, type = 'A'): Promise<Asked> {
  const body = encode({ type: 'query', id: 7, flags: 1 << 8, questions: [{ name, type: type as 'A' }] });
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length, 0);
  const started = Date.now();
  return new Promise<Asked>((resolve, reject) => {
    const s = connect(port, HOST, () => s.write(Buffer.concat([len, body])));
    let buf = Buffer.alloc(0);
    s.setTimeout(5000, () => s.destroy(new Error(`no TCP answer to ${name}`)));
    s.on('error', reject);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        s.destroy();
        resolve({ packet: decode(buf.subarray(2, 2 + buf.readUInt16BE(0))), ms: Date.now() - started });
      }
    });
  });
}
const addresses = (p: Packet) => (p.answers ?? []).filter((a) => a.type === 'A').map((a) => a.data as string);

/** An upstream we control: outside.example has an address, silent.example is never answered. */
function fakeUpstream(port: number) {
  const answer = (msg: Buffer): Uint8Array | null => {
    const q = decode(msg);
    const name = q.questions?.[0]?.name;
    if (name === 'silent.example') return null;
    const known = name === 'outside.example';
    return encode({
      type: 'response',
      id: q.id ?? 0,
      flags: (1 << 7) | (known ? 0 : 3),
      questions: q.questions ?? [],
      answers: known ? [{ name, type: 'A', ttl: 60, data: '192.0.2.44' }] : [],
    });
  };
  const udp = createSocket('udp4');
  udp.on('message', (msg, from) => {
    const a = answer(msg);
    if (a) udp.send(a, from.port, from.address);
  });
  const tcp: Server = createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d) => {
      const a = answer(d.subarray(2));
      if (!a) return;
      const len = Buffer.alloc(2);
      len.writeUInt16BE(a.length, 0);
      s.write(Buffer.concat([len, a]));
    });
  });
  return {
    start: () =>
      Promise.all([
        new Promise<void>((r) => udp.bind(port, HOST, () => r())),
        new Promise<void>((r) => tcp.listen(port, HOST, () => r())),
      ]),
    stop: () => {
      udp.close();
      tcp.close();
    },
  };
}

describe('node resolver on sockets', () => {
  let server: DnsServer;
  let upstream: ReturnType<typeof fakeUpstream>;
  let port: number;
  let upstreamPort: number;
  let upstreams = () => [{ address: HOST, port: upstreamPort }];
  const counts = new Map<string, number>();

  before(async () => {
    [port, upstreamPort] = (await freePorts(2, HOST)) as [number, number];
    upstream = fakeUpstream(upstreamPort);
    await upstream.start();
    server = new DnsServer({
      address: HOST,
      port,
      domain: 'cluster.local',
      zone: () => ZONE,
      upstreams: async () => upstreams(),
      log,
      count: (r) => counts.set(r, (counts.get(r) ?? 0) + 1),
    });
    await server.listen();
  });
  after(async () => {
    await server?.close();
    upstream?.stop();
  });

  test('cluster names over UDP and TCP: authoritative answers, NXDOMAIN for what does not exist', async () => {
    for (const ask of [askUdp, askTcp]) {
      const { packet } = await ask(port, 'web.default.svc.cluster.local');
      assert.deepEqual(addresses(packet), ['10.43.0.10']);
      assert.equal(packet.flag_aa, true);
      assert.equal(packet.rcode, 'NOERROR');
      assert.equal((await ask(port, 'nope.default.svc.cluster.local')).packet.rcode, 'NXDOMAIN');
    }
  });

  test('other names are forwarded to the upstream, over UDP and TCP; its NXDOMAIN is relayed', async () => {
    for (const ask of [askUdp, askTcp]) {
      const { packet } = await ask(port, 'outside.example');
      assert.deepEqual(addresses(packet), ['192.0.2.44']);
      assert.equal(packet.flag_aa, false);
      assert.equal((await ask(port, 'unknown.example')).packet.rcode, 'NXDOMAIN');
    }
  });

  test('an ExternalName: its CNAME, and the target resolved for the type asked, from upstream or from the zone', async () => {
    for (const ask of [askUdp, askTcp]) {
      const ext = (await ask(port, 'ext.default.svc.cluster.local')).packet;
      assert.deepEqual(
        ext.answers?.map((a) => `${a.name} ${a.type} ${a.data}`),
        ['ext.default.svc.cluster.local CNAME outside.example', 'outside.example A 192.0.2.44'],
      );
      assert.equal(ext.rcode, 'NOERROR');
      const inner = (await ask(port, 'inner.default.svc.cluster.local')).packet;
      assert.deepEqual(
        inner.answers?.map((a) => `${a.name} ${a.type} ${a.data}`),
        [
          'inner.default.svc.cluster.local CNAME web.default.svc.cluster.local',
          'web.default.svc.cluster.local A 10.43.0.10',
        ],
      );
      // A target nobody knows: the CNAME alone (the client's resolver says what it makes of it).
      const gone = (await ask(port, 'gone.default.svc.cluster.local')).packet;
      assert.deepEqual(
        gone.answers?.map((a) => a.type),
        ['CNAME'],
      );
    }
  });

  test('a silent upstream: SERVFAIL at the deadline; no upstream: SERVFAIL at once', async () => {
    for (const ask of [askUdp, askTcp]) {
      const { packet, ms } = await ask(port, 'silent.example');
      assert.equal(packet.rcode, 'SERVFAIL');
      assert.ok(ms >= FORWARD_DEADLINE_MS - 50 && ms < FORWARD_DEADLINE_MS + 1500, `${ms} ms`);
    }
    const saved = upstreams;
    upstreams = () => [];
    try {
      const { packet, ms } = await askUdp(port, 'outside.example');
      assert.equal(packet.rcode, 'SERVFAIL');
      assert.ok(ms < 500, `${ms} ms`);
    } finally {
      upstreams = saved;
    }
  });

  test(`past ${MAX_FORWARDS} forwards in flight: SERVFAIL at once; the cluster domain still answers`, async () => {
    // One burst (the server's 1 MiB receive buffer holds it): all arrive while the first are in flight.
    const flood = Array.from({ length: MAX_FORWARDS + 20 }, () => askUdp(port, 'silent.example'));
    const during = await askUdp(port, 'web.default.svc.cluster.local');
    assert.deepEqual(addresses(during.packet), ['10.43.0.10']);
    // Not queued behind the forwards (they wait FORWARD_DEADLINE_MS); the flood's 276 client sockets
    // share this test's loop, so the bound is half the deadline, as for the refused ones below.
    assert.ok(during.ms < FORWARD_DEADLINE_MS / 2, `${during.ms} ms`);
    const answers = await Promise.all(flood);
    assert.ok(answers.every((a) => a.packet.rcode === 'SERVFAIL'));
    const fast = answers.filter((a) => a.ms < FORWARD_DEADLINE_MS / 2).length;
    assert.equal(fast, 20, 'the ones past the bound are refused at once');
  });

  test('an answer over 512 bytes: truncated (TC) over UDP, even with EDNS 1232; whole over TCP', async () => {
    const plain = (await askUdp(port, 'big.default.svc.cluster.local')).packet;
    assert.equal(plain.flag_tc, true);
    assert.deepEqual(plain.answers, []);
    const edns = (await askUdp(port, 'big.default.svc.cluster.local', 'A', 4096)).packet;
    assert.equal(edns.flag_tc, true);
    assert.equal(edns.additionals?.find((a) => a.type === 'OPT')?.type, 'OPT');
    const whole = (await askTcp(port, 'big.default.svc.cluster.local')).packet;
    assert.equal(whole.flag_tc, false);
    assert.deepEqual(addresses(whole).sort(), [...MANY].sort());
    // A small answer with EDNS carries our OPT.
    const small = (await askUdp(port, 'web.default.svc.cluster.local', 'A', 1232)).packet;
    assert.deepEqual(addresses(small), ['10.43.0.10']);
  });

  test('garbage is answered FORMERR or ignored, and the server goes on', async () => {
    const socket = createSocket('udp4');
    const reply = new Promise<Buffer>((resolve) => socket.on('message', (m) => resolve(m)));
    socket.send(Buffer.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63, 1, 2]), port, HOST);
    const formerr = decode(await reply);
    socket.close();
    assert.equal(formerr.rcode, 'FORMERR');
    assert.equal(formerr.id, 9);
    socket.unref();
    assert.deepEqual(addresses((await askUdp(port, 'web.default.svc.cluster.local')).packet), ['10.43.0.10']);
  });

  test('every answer is counted by result (the metric), none logged', () => {
    for (const [result, least] of [
      ['cluster', 5],
      ['nxdomain', 2],
      ['forwarded', 4],
      ['servfail', MAX_FORWARDS + 20],
      ['error', 1],
    ] as const)
      assert.ok((counts.get(result) ?? 0) >= least, `${result}: ${counts.get(result)}`);
  });
});

describe('the zone from etcd, and from the workspace cache with etcd away', () => {
  let etcdServer: TestEtcd;
  let etcd: Etcd3;
  let workspace: string;
  const cluster = `dns-${process.pid}`;

  before(async () => {
    etcdServer = await startTestEtcd();
    etcd = await connectEtcd({ endpoints: [etcdServer.url], dialTimeoutMs: 3000 });
    workspace = await mkdtemp(join(tmpdir(), 'nokube-dns-'));
  });
  after(async () => {
    etcd?.close();
    await etcdServer?.stop();
    if (workspace) await rm(workspace, { recursive: true, force: true });
  });

  test('Services and slices reach the zone within a moment; a source restarted without etcd answers from its cache', async () => {
    const source = new ZoneSource({ etcd, cluster, workspace, log });
    await source.start();
    await createObjects(etcd, cluster, [
      service('web', { clusterIP: '10.43.0.10', ports: [{ port: 80 }] }),
      service('db', { clusterIP: 'None' }),
      slice('db', ['10.42.0.5', '10.42.0.6']),
    ]);
    const svc = () => source.zone().service('db', 'default');
    await eventually(() => (svc()?.endpoints.length === 2 ? true : undefined), 5000, 'the zone has db');
    assert.equal(source.zone().service('web', 'default')?.clusterIP, '10.43.0.10');
    await source.stop();
    // Restarted cut off from etcd (nothing listens there): the cache answers at once.
    const away = await createEtcd({ endpoints: ['http://127.0.0.1:9'], dialTimeoutMs: 200 });
    try {
      const cut = new ZoneSource({ etcd: away, cluster, workspace, log });
      await cut.start();
      assert.deepEqual(
        cut
          .zone()
          .service('db', 'default')
          ?.endpoints.map((e) => e.ip),
        ['10.42.0.5', '10.42.0.6'],
      );
      assert.equal(cut.zone().service('web', 'default')?.clusterIP, '10.43.0.10');
      await cut.stop();
    } finally {
      away.close();
    }
  });
});

test("the host's resolv.conf is read again when it changes; without one there is no upstream", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nokube-resolv-'));
  try {
    const file = join(dir, 'resolv.conf');
    await writeFile(file, 'nameserver 127.0.0.53\nnameserver 192.0.2.1\n');
    const host = new HostResolv(file, log, { checkMs: 20 });
    assert.deepEqual(await host.upstreams(), [
      { address: '127.0.0.53', port: 53 },
      { address: '192.0.2.1', port: 53 },
    ]);
    await writeFile(file, 'nameserver 192.0.2.9\n');
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    await eventually(
      async () => ((await host.upstreams())[0]?.address === '192.0.2.9' ? true : undefined),
      2000,
      'the new nameserver',
    );
    await rm(file);
    await eventually(
      async () => ((await host.upstreams()).length === 0 ? true : undefined),
      2000,
      'no upstream',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
