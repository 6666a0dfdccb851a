// The fault suite's history recorder: three independent sampling loops, every 250 ms until stopped — etcd
// (objects, pod statuses, alive records, node records, election keys: one read-only transaction, so one
// revision), Docker (the cluster's containers by label, running or not) and the heads (who each says
// leads, and whether each runs the controllers). Independent loops, so a hung etcd or a frozen head never
// stops the other streams; each request is bounded by a timeout. Memory is bounded: each stream keeps
// its last MAX_SAMPLES samples.
import type { Etcd3, IKeyValue } from 'etcd3';
import type { Pod, PodStatus } from '../../../agent/objects/types.ts';
import { LABEL } from '../../../agent/runtime/labels.ts';
import { createEtcd, shortReason, withTimeout } from '../../../agent/store/etcd.ts';
import { keys } from '../../../agent/store/keys.ts';
import type { Docker } from '../docker.ts';
import type {
  ContainerView,
  DockerSample,
  EtcdSample,
  HeadsSample,
  HeadView,
  History,
  NoteKind,
  PodView,
} from './history.ts';

const PERIOD_MS = 250;
const REQUEST_TIMEOUT_MS = 800;
/** 10 minutes of samples per stream. */
const MAX_SAMPLES = 2400;
/** Rows only the kubecontroller leader reports in `nokube_actor` (README "Metrics"). */
const LEADER_ROW = /^nokube_actor\{(?:[^}]*,)?kind="(deployment|daemonset|job|namespace|configmap|secret)"/m;

export interface RecorderTarget {
  cluster: string;
  etcdUrl: string;
  docker: Docker;
  nodes: string[];
  /** Head node -> its API base URL. */
  heads: Record<string, string>;
}

export interface Recorder {
  /** Record a fault (or its end) on the history's clock; `since` (performance.now()): when it began, for a
   * fault noted once done (a stop waited for) that was in effect from its signal on. */
  note(kind: NoteKind, target: string, text?: string, since?: number): void;
  /** The history so far (a copy of the arrays; samples are not copied). */
  snapshot(): History;
  stop(): Promise<History>;
}

export function startRecorder(target: RecorderTarget): Recorder {
  const start = performance.now();
  const h: History = {
    cluster: target.cluster,
    nodes: target.nodes,
    heads: Object.keys(target.heads),
    start,
    end: start,
    etcd: [],
    docker: [],
    leaders: [],
    notes: [],
    dropped: 0,
  };
  let stopped = false;
  const push = <T>(list: T[], sample: T) => {
    list.push(sample);
    if (list.length > MAX_SAMPLES) {
      list.shift();
      h.dropped++;
    }
  };
  const etcd = etcdSampler(target);
  const loops = [
    loop(
      () => etcd.sample(),
      (s) => push(h.etcd, s),
    ),
    loop(
      () => dockerSample(target),
      (s) => push(h.docker, s),
    ),
    loop(
      () => headsSample(target.heads),
      (s) => push(h.leaders, s),
    ),
  ];
  async function loop<T>(sample: () => Promise<T>, keep: (s: T) => void): Promise<void> {
    while (!stopped) {
      const begun = performance.now();
      const s = await sample();
      if (stopped) return;
      keep(s);
      const wait = PERIOD_MS - (performance.now() - begun);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
  const snapshot = (): History => ({
    ...h,
    end: performance.now(),
    etcd: [...h.etcd],
    docker: [...h.docker],
    leaders: [...h.leaders],
    notes: [...h.notes],
  });
  return {
    note(kind, target, text = `${kind} ${target}`, since = performance.now()) {
      // Notes stay in time order (impairedAt reads them so).
      let i = h.notes.length;
      while (i > 0 && h.notes[i - 1]!.t > since) i--;
      h.notes.splice(i, 0, { t: since, kind, target, text });
    },
    snapshot,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      etcd.close();
      return snapshot();
    },
  };
}

function etcdSampler(target: RecorderTarget) {
  const root = keys.cluster(target.cluster);
  const prefixes = ['objects/', 'status/pods/', 'alive/', 'nodes/', 'election/kubecontroller/'];
  let client: Etcd3 | undefined;
  return {
    async sample(): Promise<EtcdSample> {
      try {
        client ??= await createEtcd({ endpoints: [target.etcdUrl], dialTimeoutMs: REQUEST_TIMEOUT_MS });
        const res = await withTimeout(
          client.kv.txn(
            {
              success: prefixes.map((p) => {
                const key = Buffer.from(root + p);
                return { request_range: { key, range_end: prefixEnd(key) } };
              }),
            },
            { deadline: Date.now() + REQUEST_TIMEOUT_MS },
          ),
          REQUEST_TIMEOUT_MS,
          `no answer within ${REQUEST_TIMEOUT_MS} ms`,
        );
        const [objects, statuses, alive, nodes, election] = res.responses.map(
          (r) => r.response_range.kvs,
        ) as IKeyValue[][];
        return {
          t: performance.now(),
          ok: true,
          ...parseEtcd(root, objects!, statuses!, alive!, nodes!, election!),
        };
      } catch (err) {
        // A fresh client next time: the old one's circuit breaker would refuse calls for a while after
        // etcd is back, which the history would mistake for an outage.
        client?.close();
        client = undefined;
        return { t: performance.now(), ok: false, error: shortReason(err) };
      }
    },
    close: () => client?.close(),
  };
}

function parseEtcd(
  root: string,
  objects: IKeyValue[],
  statuses: IKeyValue[],
  alive: IKeyValue[],
  nodes: IKeyValue[],
  election: IKeyValue[],
): Omit<Extract<EtcdSample, { ok: true }>, 't' | 'ok'> {
  const rel = (kv: IKeyValue, prefix: string) => kv.key.toString('utf8').slice(root.length + prefix.length);
  const status = new Map<string, PodStatus>();
  for (const kv of statuses) status.set(rel(kv, 'status/pods/'), JSON.parse(kv.value.toString('utf8')));
  const pods: PodView[] = [];
  const deployments: Array<{ namespace: string; name: string; replicas: number }> = [];
  for (const kv of objects) {
    const key = rel(kv, 'objects/');
    if (key.startsWith('pods/')) {
      const pod = JSON.parse(kv.value.toString('utf8')) as Pod;
      const st = status.get(key.slice('pods/'.length));
      const owner = pod.metadata.ownerReferences?.find((o) => o.controller);
      pods.push({
        namespace: pod.metadata.namespace ?? 'default',
        name: pod.metadata.name,
        uid: pod.metadata.uid ?? '',
        ...(pod.spec.nodeName ? { node: pod.spec.nodeName } : {}),
        ...(owner ? { owner: `${owner.kind}/${owner.name}` } : {}),
        ...(st?.phase ? { phase: st.phase } : {}),
        ...(st?.reason ? { reason: st.reason } : {}),
        containers: pod.spec.containers.map((c) => c.name),
      });
    } else if (key.startsWith('deployments/')) {
      const d = JSON.parse(kv.value.toString('utf8')) as {
        metadata: { name: string; namespace?: string };
        spec: { replicas?: number };
      };
      deployments.push({
        namespace: d.metadata.namespace ?? 'default',
        name: d.metadata.name,
        replicas: d.spec.replicas ?? 1,
      });
    }
  }
  return {
    objects: objects.map((kv) => rel(kv, 'objects/')),
    pods,
    deployments,
    alive: alive.map((kv) => rel(kv, 'alive/')),
    nodes: Object.fromEntries(
      nodes.map((kv) => [
        rel(kv, 'nodes/'),
        (JSON.parse(kv.value.toString('utf8')) as { incarnation: number }).incarnation,
      ]),
    ),
    election: election.map((kv) => ({
      node: kv.value.toString('utf8'),
      createRevision: Number(kv.create_revision),
      lease: kv.lease,
    })),
  };
}

/** The end of a prefix range: the prefix with its last byte incremented. */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1]! += 1;
  return end;
}

async function dockerSample(target: RecorderTarget): Promise<DockerSample> {
  try {
    const list = await withTimeout(
      target.docker.listContainers({ all: true, filters: { label: [`${LABEL.cluster}=${target.cluster}`] } }),
      REQUEST_TIMEOUT_MS * 2,
      'the engine did not answer',
    );
    const containers: ContainerView[] = list.map((c) => ({
      id: c.Id,
      node: c.Labels[LABEL.node] ?? '',
      namespace: c.Labels[LABEL.namespace] ?? '',
      pod: c.Labels[LABEL.pod] ?? '',
      podUid: c.Labels[LABEL.podUid] ?? '',
      container: c.Labels[LABEL.container] ?? '',
      ownerPath: c.Labels[LABEL.ownerPath] ?? '',
      running: c.State === 'running',
    }));
    return { t: performance.now(), ok: true, containers };
  } catch (err) {
    return { t: performance.now(), ok: false, error: shortReason(err) };
  }
}

async function headsSample(heads: Record<string, string>): Promise<HeadsSample> {
  const views = await Promise.all(Object.values(heads).map((url) => headView(url)));
  return {
    t: performance.now(),
    heads: Object.fromEntries(Object.keys(heads).map((n, i) => [n, views[i]!])),
  };
}

async function headView(url: string): Promise<HeadView> {
  const get = async (path: string) => {
    const res = await fetch(url + path, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    // The head's own words (`{error}`) say why: an HTTP status alone hid a cause once.
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    return res.text();
  };
  try {
    const [kc, metrics] = await Promise.all([get('/api/v1/kubecontroller'), get('/metrics')]);
    return { answer: (JSON.parse(kc) as { leader: string | null }).leader, acting: LEADER_ROW.test(metrics) };
  } catch (err) {
    return { error: shortReason(err) };
  }
}
