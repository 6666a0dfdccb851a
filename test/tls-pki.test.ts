// The cluster's PKI functions: what they issue, what a chain check accepts and refuses, names, expiry maths
// on a fixed clock, and the node check the agent runs at start (each refusal naming its file).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { expiryWarnings } from '../agent/tls/expiry-part.ts';
import {
  caProblem,
  certificateIdentity,
  chainProblem,
  daysLeft,
  expiryState,
  parseCertificate,
  subjectAltNames,
} from '../agent/tls/inspect.ts';
import {
  type IssuedPem,
  issueCa,
  issueCliCertificate,
  issueNodeCertificate,
  type SigningCa,
} from '../agent/tls/issue.ts';
import { checkNodeTls } from '../agent/tls/node-check.ts';
import { CA_VALIDITY_DAYS, DAY_MS } from '../agent/tls/validity.ts';
import { importPrivateKey } from '../agent/tls/x509.ts';

const NOW = new Date('2030-01-01T00:00:00Z');
const at = (days: number) => new Date(NOW.getTime() + days * DAY_MS);
const head = { name: 'edge-1', address: '10.0.0.1', roles: ['head', 'worker'] as Array<'head' | 'worker'> };
const worker = {
  name: 'edge-2',
  address: 'edge-2.example.net',
  roles: ['worker'] as Array<'head' | 'worker'>,
};

async function signing(pem: IssuedPem): Promise<SigningCa> {
  return { cert: parseCertificate(pem.cert), key: await importPrivateKey(pem.key) };
}

describe('cluster PKI', () => {
  let caPem: IssuedPem;
  let ca: SigningCa;
  let other: SigningCa;
  let dir: string;

  before(async () => {
    caPem = await issueCa('demo', { now: NOW, days: CA_VALIDITY_DAYS });
    ca = await signing(caPem);
    // Another cluster's CA with the very same subject: only the signature tells them apart.
    other = await signing(await issueCa('demo', { now: NOW, days: CA_VALIDITY_DAYS }));
    dir = await mkdtemp(join(tmpdir(), 'nokube-tls-pki-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('the CA: self-signed, a CA, P-256, 10 years from 5 minutes ago', async () => {
    assert.equal(await caProblem(ca.cert, NOW), undefined);
    assert.deepEqual(certificateIdentity(ca.cert), { kind: 'ca', name: 'nokube demo CA' });
    assert.equal(ca.cert.notBefore.getTime(), NOW.getTime() - 5 * 60_000);
    assert.equal(ca.cert.notAfter.getTime(), at(CA_VALIDITY_DAYS).getTime());
    assert.match(caPem.key, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(
      await caProblem(ca.cert, at(CA_VALIDITY_DAYS)),
      `expired on ${at(CA_VALIDITY_DAYS).toISOString()}`,
    );
  });

  test('a node certificate: CN the name, O its roles, SANs its address (IP or DNS) and name; chains to the CA', async () => {
    const h = parseCertificate((await issueNodeCertificate(ca, head, { now: NOW, days: 365 })).cert);
    assert.deepEqual(certificateIdentity(h), { kind: 'node', name: 'edge-1', roles: ['head', 'worker'] });
    assert.deepEqual(subjectAltNames(h), ['IP:10.0.0.1', 'DNS:edge-1']);
    assert.equal(await chainProblem(h, ca.cert, NOW), undefined);
    const w = parseCertificate((await issueNodeCertificate(ca, worker, { now: NOW, days: 365 })).cert);
    assert.deepEqual(certificateIdentity(w), { kind: 'node', name: 'edge-2', roles: ['worker'] });
    assert.deepEqual(subjectAltNames(w), ['DNS:edge-2.example.net', 'DNS:edge-2']);
    const v6 = parseCertificate(
      (await issueNodeCertificate(ca, { ...worker, address: 'fd00::7' }, { now: NOW, days: 365 })).cert,
    );
    assert.deepEqual(subjectAltNames(v6), ['IP:fd00::7', 'DNS:edge-2']);
  });

  test('the CLI certificate: CN cli, group ops-admin, no names to serve', async () => {
    const cli = parseCertificate((await issueCliCertificate(ca, { now: NOW, days: 365 })).cert);
    assert.deepEqual(certificateIdentity(cli), { kind: 'client', name: 'cli', groups: ['ops-admin'] });
    assert.deepEqual(subjectAltNames(cli), []);
    assert.equal(await chainProblem(cli, ca.cert, NOW), undefined);
  });

  test('a certificate from another CA is refused, even under the same CA name', async () => {
    const foreign = parseCertificate((await issueNodeCertificate(other, head, { now: NOW, days: 365 })).cert);
    assert.match(
      (await chainProblem(foreign, ca.cert, NOW)) ?? '',
      /signature does not verify with this cluster's CA key/,
    );
    const named = await signing(await issueCa('elsewhere', { now: NOW, days: 10 }));
    const cert = parseCertificate((await issueNodeCertificate(named, head, { now: NOW, days: 5 })).cert);
    assert.match(
      (await chainProblem(cert, ca.cert, NOW)) ?? '',
      /^issued by "CN=nokube elsewhere CA, OU=nokube-ca", not by this cluster's CA/,
    );
  });

  test('expiry on a fixed clock: days left, the 30-day mark, expired; never longer than the CA', async () => {
    const c = parseCertificate((await issueNodeCertificate(ca, head, { now: NOW, days: 40 })).cert);
    assert.equal(c.notAfter.getTime(), at(40).getTime());
    assert.equal(daysLeft(c.notAfter, NOW), 40);
    assert.equal(daysLeft(c.notAfter, at(10.5)), 29);
    assert.equal(expiryState(c.notAfter, at(10)), 'ok');
    assert.equal(expiryState(c.notAfter, at(10.001)), 'expiring');
    assert.equal(expiryState(c.notAfter, at(40)), 'expired');
    assert.equal(daysLeft(c.notAfter, at(40.5)), -1);
    assert.equal(await chainProblem(c, ca.cert, at(40)), `expired on ${at(40).toISOString()}`);
    assert.match((await chainProblem(c, ca.cert, at(-1))) ?? '', /^the CA certificate: not valid before /);
    const shortCa = await signing(await issueCa('demo', { now: NOW, days: 20 }));
    const capped = parseCertificate(
      (await issueNodeCertificate(shortCa, head, { now: NOW, days: 365 })).cert,
    );
    assert.equal(capped.notAfter.getTime(), shortCa.cert.notAfter.getTime());
  });

  test('expiry warnings: none with time left, one per certificate under 30 days, expired said so', async () => {
    const tls = {
      ca: ca.cert,
      cert: parseCertificate((await issueNodeCertificate(ca, head, { now: NOW, days: 40 })).cert),
    };
    assert.deepEqual(expiryWarnings(tls, NOW), []);
    assert.deepEqual(expiryWarnings(tls, at(20)), [
      {
        reason: 'CertificateExpiring',
        message: `node certificate "edge-1" expires on ${at(40).toISOString()} (20 days left): renew it (nokube tls rotate, then new-or-update)`,
      },
    ]);
    assert.deepEqual(
      expiryWarnings(tls, at(CA_VALIDITY_DAYS - 1)).map((w) => w.reason),
      ['CertificateExpired', 'CertificateExpiring'],
    );
  });

  test('the node check: good files pass; each misfit is refused naming the file', async () => {
    const write = async (name: string, text: string) => {
      await writeFile(join(dir, name), text, { mode: 0o600 });
      return join(dir, name);
    };
    const own = await issueNodeCertificate(ca, head, { now: NOW, days: 365 });
    const files = {
      ca: await write('ca.pem', caPem.cert),
      cert: await write('node.pem', own.cert),
      key: await write('node-key.pem', own.key),
    };
    const labels = { ca: '--tls-ca', cert: '--tls-cert', key: '--tls-key' };
    const check = (f: typeof files, node = head, now = NOW) => checkNodeTls(f, node, labels, now, 'FIX');
    const ok = await check(files);
    assert.equal(certificateIdentity(ok.cert).name, 'edge-1');

    const otherNode = await issueNodeCertificate(ca, worker, { now: NOW, days: 365 });
    const foreign = await issueNodeCertificate(other, head, { now: NOW, days: 365 });
    const junk = await write('junk.pem', 'hello');
    const otherCert = await write('o.pem', otherNode.cert);
    const foreignCert = await write('f.pem', foreign.cert);
    const otherKey = await write('other-key.pem', otherNode.key);
    const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
      [
        'missing key',
        () => check({ ...files, key: join(dir, 'none.pem') }),
        /^AgentStartError: --tls-key \S+none\.pem: missing \(FIX\)$/,
      ],
      [
        'not PEM',
        () => check({ ...files, cert: junk }),
        /^AgentStartError: --tls-cert \S+junk\.pem: not a PEM certificate/,
      ],
      ['another node', () => check({ ...files, cert: otherCert }), /is node "edge-2"'s, not node "edge-1"'s/],
      [
        'another CA',
        () => check({ ...files, cert: foreignCert }),
        /^AgentStartError: --tls-cert \S+f\.pem: its signature does not verify/,
      ],
      [
        'key of another',
        () => check({ ...files, key: otherKey }),
        /^AgentStartError: --tls-key \S+other-key\.pem: the key does not belong to/,
      ],
      [
        'roles changed',
        () => check(files, { ...head, roles: ['worker'] }),
        /roles \[head, worker\], the config \[worker\]/,
      ],
      [
        'address changed',
        () => check(files, { ...head, address: '10.0.0.9' }),
        /names IP:10\.0\.0\.1, DNS:edge-1, the config IP:10\.0\.0\.9/,
      ],
      [
        'expired',
        () => check(files, head, at(400)),
        /^AgentStartError: --tls-cert \S+node\.pem: expired on /,
      ],
      ['the CA as the certificate', () => check({ ...files, cert: files.ca }), /not a node certificate \(ca/],
    ];
    for (const [name, p, message] of cases) await assert.rejects(p, message, name);
  });
});
