// A history told as its changes, in time order: the faults, pods created / deleted / changing phase,
// node records and the election holder coming and going, alive records lost and found, containers
// started / stopped / removed, each head's answer. What a failing scenario prints and the report quotes.
import { at, electionHolder, type History, okDocker, okEtcd, type PodView } from './history.ts';

const MAX_LINES = 150;

export function timeline(h: History): string {
  const lines: Array<{ t: number; text: string }> = [];
  const add = (t: number, text: string) => lines.push({ t, text });
  const first = okEtcd(h)[0];
  if (first) add(first.t, `start: ${first.pods.map(podText).join(', ')}`);
  // The wall clock too, to find the moment in the agents' logs.
  const clock = (t: number) => new Date(performance.timeOrigin + t).toISOString().slice(11, 23);
  for (const n of h.notes) add(n.t, `FAULT ${n.text} (${clock(n.t)} UTC)`);
  etcdChanges(h, add);
  dockerChanges(h, add);
  headChanges(h, add);
  lines.sort((a, b) => a.t - b.t);
  const shown = lines.slice(0, MAX_LINES).map((l) => `${at(h, l.t)} ${l.text}`);
  if (lines.length > MAX_LINES) shown.push(`… ${lines.length - MAX_LINES} more changes`);
  return shown.join('\n');
}

type Add = (t: number, text: string) => void;

const podText = (p: PodView) =>
  `pod ${p.name} on ${p.node ?? '-'} ${p.phase ?? 'no status'}${p.reason ? `/${p.reason}` : ''}`;

function etcdChanges(h: History, add: Add): void {
  let failing = false;
  for (const s of h.etcd) {
    if (!s.ok && !failing) add(s.t, `etcd: no answer (${s.error})`);
    if (s.ok && failing) add(s.t, 'etcd: answers again');
    failing = !s.ok;
  }
  const samples = okEtcd(h);
  for (let i = 1; i < samples.length; i++) {
    const [a, b] = [samples[i - 1]!, samples[i]!];
    const before = new Map(a.pods.map((p) => [p.uid, p]));
    const now = new Map(b.pods.map((p) => [p.uid, p]));
    for (const [uid, p] of now) {
      const old = before.get(uid);
      if (!old) add(b.t, `etcd: + ${podText(p)}`);
      else if (podText(old) !== podText(p))
        add(
          b.t,
          `etcd: ${podText(old)} -> ${p.node ?? '-'} ${p.phase ?? 'no status'}${p.reason ? `/${p.reason}` : ''}`,
        );
    }
    for (const [uid, p] of before) if (!now.has(uid)) add(b.t, `etcd: - ${podText(p)} deleted`);
    for (const n of new Set([...Object.keys(a.nodes), ...Object.keys(b.nodes)])) {
      if (a.nodes[n] === b.nodes[n]) continue;
      add(
        b.t,
        b.nodes[n] === undefined
          ? `etcd: node record ${n} gone`
          : `etcd: node record ${n} (incarnation ${b.nodes[n]})`,
      );
    }
    const [ha, hb] = [electionHolder(a), electionHolder(b)];
    if (ha !== hb) add(b.t, `etcd: election held by ${hb ?? 'nobody'} (was ${ha ?? 'nobody'})`);
    const aliveA = new Set(a.alive);
    const aliveB = new Set(b.alive);
    const lost = a.alive.filter((k) => !aliveB.has(k));
    const found = b.alive.filter((k) => !aliveA.has(k));
    if (lost.length) add(b.t, `etcd: alive records gone (${lost.length}): ${few(lost)}`);
    if (found.length) add(b.t, `etcd: alive records new (${found.length}): ${few(found)}`);
  }
}

function dockerChanges(h: History, add: Add): void {
  let failing = false;
  for (const s of h.docker) {
    if (!s.ok && !failing) add(s.t, `docker: no answer (${s.error})`);
    failing = !s.ok;
  }
  const samples = okDocker(h);
  for (let i = 1; i < samples.length; i++) {
    const [a, b] = [samples[i - 1]!, samples[i]!];
    const before = new Map(a.containers.map((c) => [c.id, c]));
    for (const c of b.containers) {
      const old = before.get(c.id);
      const name = `${c.pod}/${c.container} on ${c.node} (${c.id.slice(0, 12)})`;
      if (c.running && !old?.running) add(b.t, `docker: ${name} running`);
      if (!c.running && old?.running) add(b.t, `docker: ${name} stopped`);
      before.delete(c.id);
    }
    for (const c of before.values())
      add(b.t, `docker: ${c.pod}/${c.container} on ${c.node} (${c.id.slice(0, 12)}) removed`);
  }
}

function headChanges(h: History, add: Add): void {
  const last = new Map<string, string>();
  for (const s of h.leaders)
    for (const [n, v] of Object.entries(s.heads)) {
      const text = v.error
        ? `no answer (${v.error})`
        : `says leader ${v.answer}${v.acting ? ', runs the controllers' : ''}`;
      if (last.get(n) !== text) add(s.t, `head ${n}: ${text}`);
      last.set(n, text);
    }
}

function few(list: string[]): string {
  return list.length <= 3 ? list.join(', ') : `${list.slice(0, 3).join(', ')}, …`;
}
