// The node resolver's answers for the cluster domain (pure; CoreDNS' kubernetes plugin's names):
//   <svc>.<ns>.svc.<domain>            A: the ClusterIP; headless: the ready endpoints' addresses
//   <host>.<svc>.<ns>.svc.<domain>     A: a headless Service's endpoint whose hostname (pod `hostname` with
//                                      `subdomain: <svc>`) or dashed address (10-42-0-5) is <host>
//   _<port>._<proto>.<svc>.<ns>.svc.<domain>   SRV per named port (target the Service, or each endpoint)
//   <svc>.<ns>.svc.<domain>            SRV: every named port of the Service
//   <a-b-c-d>.<ns>.pod.<domain>        A: a.b.c.d (CoreDNS' `pods insecure`, kubeadm's default)
//   <d.c.b.a>.in-addr.arpa             PTR: the Services (and headless endpoints) at a.b.c.d; an address
//                                      the zone does not hold is forwarded
//   <svc>.<ns>.svc.<domain>            of an ExternalName Service, any type: a CNAME to its externalName,
//                                      which the server then resolves for the type asked (`chase`)
// A name of the domain that exists with no record of the type asked: NOERROR and no answer (NODATA: an
// IPv6 query for a Service); one that does not exist: NXDOMAIN. Both carry the zone's SOA (negative
// answers are cached for TTL_SECONDS). Names outside the domain are forwarded. The search path (`web` ->
// `web.default.svc.cluster.local`) is the pod's stub resolver's work: what comes here is a full name.
import type { Answer } from '@dnsquery/dns-packet';
import type { Zone, ZonePort, ZoneService } from './zone.ts';

/** The TTL of every answer of the cluster domain, and of its negative answers (CoreDNS' default). */
export const TTL_SECONDS = 5;

export type LookupResult =
  | { forward: true }
  | {
      forward?: false;
      rcode: 'NOERROR' | 'NXDOMAIN';
      answers: Answer[];
      authorities: Answer[];
      additionals: Answer[];
      /** A CNAME answered: its target, to resolve for the type asked and append (CoreDNS does). */
      chase?: string;
    };

/** Lower-case labels of a name, without the root's trailing dot. */
export const labelsOf = (name: string): string[] =>
  name
    .replace(/\.$/, '')
    .toLowerCase()
    .split('.')
    .filter((l) => l !== '');

export function lookup(zone: Zone, domain: string, question: { name: string; type: string }): LookupResult {
  const zoneLabels = labelsOf(domain);
  const labels = labelsOf(question.name);
  if (labels.length === 6 && labels[4] === 'in-addr' && labels[5] === 'arpa')
    return reverse(zone, zoneLabels.join('.'), question, labels.slice(0, 4).reverse().join('.'));
  const within =
    labels.length >= zoneLabels.length &&
    zoneLabels.every((l, i) => labels[labels.length - zoneLabels.length + i] === l);
  if (!within) return { forward: true };
  const apex = zoneLabels.join('.');
  const q = new Query(question.name, question.type, apex);
  // Labels left of the domain, the nearest first: [svc, <ns>, <name>, ...].
  const rel = labels.slice(0, labels.length - zoneLabels.length).reverse();
  if (rel.length === 0) return q.atApex();
  if (rel[0] === 'pod') return rel.length === 3 ? q.pod(rel[2]!) : rel.length < 3 ? q.nodata() : q.nxdomain();
  if (rel[0] !== 'svc') return q.nxdomain();
  if (rel.length === 1) return q.nodata();
  const namespace = rel[1]!;
  if (rel.length === 2) return zone.hasNamespace(namespace) ? q.nodata() : q.nxdomain();
  const svc = zone.service(rel[2]!, namespace);
  if (!svc) return q.nxdomain();
  const svcName = `${svc.name}.${svc.namespace}.svc.${apex}`;
  if (rel.length === 3) return q.service(svc, svcName);
  if (rel.length === 4) return q.endpoint(svc, svcName, rel[3]!);
  if (rel.length === 5 && rel[4]!.startsWith('_') && rel[3]!.startsWith('_'))
    return q.srvOfPort(svc, svcName, rel[4]!.slice(1), rel[3]!.slice(1));
  return q.nxdomain();
}

function reverse(
  zone: Zone,
  apex: string,
  question: { name: string; type: string },
  ip: string,
): LookupResult {
  const names = zone.namesOf(ip);
  if (names.length === 0) return { forward: true };
  const q = new Query(question.name, question.type, apex);
  return q.ptr(names.map((n) => `${n}.${apex}`));
}

const dashed = (ip: string) => ip.replaceAll('.', '-');
const DASHED_IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(-(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const hostOf = (e: { ip: string; hostname?: string }) => e.hostname ?? dashed(e.ip);

/** One question's answers; names in answers are the question's as asked (its case kept). */
class Query {
  private readonly name: string;
  private readonly type: string;
  private readonly zoneName: string;

  constructor(name: string, type: string, apex: string) {
    this.name = name.replace(/\.$/, '');
    this.type = type;
    this.zoneName = apex;
  }

  private get wantsA(): boolean {
    return this.type === 'A' || this.type === 'ANY';
  }

  private get wantsSrv(): boolean {
    return this.type === 'SRV' || this.type === 'ANY';
  }

  private soa(): Answer {
    return {
      name: this.zoneName,
      type: 'SOA',
      ttl: TTL_SECONDS,
      data: {
        mname: `ns.dns.${this.zoneName}`,
        rname: `hostmaster.${this.zoneName}`,
        serial: 1,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: TTL_SECONDS,
      },
    };
  }

  private answer(answers: Answer[], additionals: Answer[] = []): LookupResult {
    if (answers.length === 0) return this.nodata();
    return { rcode: 'NOERROR', answers, authorities: [], additionals };
  }

  private a(name: string, ip: string): Answer {
    return { name, type: 'A', ttl: TTL_SECONDS, data: ip };
  }

  nodata(): LookupResult {
    return { rcode: 'NOERROR', answers: [], authorities: [this.soa()], additionals: [] };
  }

  nxdomain(): LookupResult {
    return { rcode: 'NXDOMAIN', answers: [], authorities: [this.soa()], additionals: [] };
  }

  atApex(): LookupResult {
    if (this.type === 'SOA') return this.answer([{ ...this.soa(), name: this.name }]);
    return this.nodata();
  }

  /** `a-b-c-d.<ns>.pod`: that address, unverified (as CoreDNS' `pods insecure`). */
  pod(host: string): LookupResult {
    if (!DASHED_IPV4.test(host)) return this.nxdomain();
    return this.wantsA ? this.answer([this.a(this.name, host.replaceAll('-', '.'))]) : this.nodata();
  }

  ptr(names: string[]): LookupResult {
    if (this.type !== 'PTR' && this.type !== 'ANY') return this.nodata();
    return this.answer(names.map((data) => ({ name: this.name, type: 'PTR', ttl: TTL_SECONDS, data })));
  }

  service(svc: ZoneService, svcName: string): LookupResult {
    if (svc.externalName) {
      const cname: Answer = { name: this.name, type: 'CNAME', ttl: TTL_SECONDS, data: svc.externalName };
      const answered = this.answer([cname]);
      return this.type === 'CNAME' || answered.forward ? answered : { ...answered, chase: svc.externalName };
    }
    if (this.wantsA) {
      if (svc.clusterIP) return this.answer([this.a(this.name, svc.clusterIP)]);
      return this.answer(svc.endpoints.map((e) => this.a(this.name, e.ip)));
    }
    if (this.wantsSrv) return this.srv(svc, svcName, this.namedPorts(svc));
    return this.nodata();
  }

  endpoint(svc: ZoneService, svcName: string, host: string): LookupResult {
    if (svc.clusterIP || svc.externalName) return this.nxdomain();
    const ep = svc.endpoints.find((e) => hostOf(e) === host);
    if (!ep) return this.nxdomain();
    if (this.wantsA) return this.answer([this.a(this.name, ep.ip)]);
    if (this.wantsSrv) {
      const ports = this.namedPorts(svc);
      return this.answer(ports.map((p) => this.srvRecord(`${host}.${svcName}`, p.port, ports.length)));
    }
    return this.nodata();
  }

  srvOfPort(svc: ZoneService, svcName: string, port: string, protocol: string): LookupResult {
    const ports = this.namedPorts(svc).filter(
      (p) => p.name === port && p.protocol.toLowerCase() === protocol,
    );
    if (ports.length === 0) return this.nxdomain();
    if (!this.wantsSrv) return this.nodata();
    return this.srv(svc, svcName, ports);
  }

  /** Named ports only have SRV records (k8s); a headless Service's are its endpoints' ports. */
  private namedPorts(svc: ZoneService): ZonePort[] {
    return (svc.clusterIP ? svc.ports : svc.endpointPorts).filter((p) => p.name !== '');
  }

  private srv(svc: ZoneService, svcName: string, ports: ZonePort[]): LookupResult {
    if (svc.clusterIP)
      return this.answer(
        ports.map((p) => this.srvRecord(svcName, p.port, ports.length)),
        ports.length > 0 ? [this.a(svcName, svc.clusterIP)] : [],
      );
    const n = ports.length * svc.endpoints.length;
    return this.answer(
      ports.flatMap((p) => svc.endpoints.map((e) => this.srvRecord(`${hostOf(e)}.${svcName}`, p.port, n))),
      svc.endpoints.map((e) => this.a(`${hostOf(e)}.${svcName}`, e.ip)),
    );
  }

  /** CoreDNS' SRV: priority 0, the weight shared out over the records. */
  private srvRecord(target: string, port: number, count: number): Answer {
    return {
      name: this.name,
      type: 'SRV',
      ttl: TTL_SECONDS,
      data: { priority: 0, weight: Math.max(1, Math.floor(100 / Math.max(1, count))), port, target },
    };
  }
}
