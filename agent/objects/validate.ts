// Manifests as users write them (multi-document YAML or JSON) -> k8s objects nokube can store, or one
// error line per problem: `<file>:<line>: document <n> (<Kind> <name>): <path>: <message>`.
// Server-set metadata (uid, resourceVersion, generation, creationTimestamp, ...) and `status` are
// ignored, as kubectl does; namespace defaults to "default"; Secret stringData is folded into data.
import { LineCounter, parseAllDocuments } from 'yaml';
import { describeIssue, formatPath, lineOfPath } from '../config/validate.ts';
import { describeObject } from './kubectl-names.ts';
import { MAX_DOCUMENTS_PER_APPLY } from './limits.ts';
import { KIND_SCHEMAS } from './schema/kinds.ts';
import {
  API_VERSION,
  CONTROLLER_MADE_KINDS,
  DEFAULT_NAMESPACE,
  KINDS,
  type Kind,
  type KubeObject,
  namespaced,
} from './types.ts';
import { crossFieldProblems } from './validate-rules.ts';

export { parseCpu, parseMemory } from './quantity.ts';

/** Where a document came from: file (or "-" for stdin), its position in the file (and in the document's
 * `items` when it is a `kind: List`, as `nokube get -o yaml` prints several objects), its first line. */
export interface ManifestOrigin {
  source: string;
  document: number;
  item?: number;
  line?: number;
}

/** `document 2`, or `document 2 items[0]` for an object of a List. */
export const documentLabel = (o: ManifestOrigin): string =>
  `document ${o.document}${o.item === undefined ? '' : ` items[${o.item}]`}`;

export interface RawDocument extends ManifestOrigin {
  value: unknown;
  lineOf?: (path: ReadonlyArray<PropertyKey>) => number | undefined;
}

/** A valid object as applied: metadata holds only name, namespace, labels, annotations. */
export interface Manifest {
  object: KubeObject;
  origin: ManifestOrigin;
}

export class ManifestError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ManifestError';
    this.problems = problems;
  }
}

/** Known k8s fields nokube does not implement: refused with "not supported" rather than "unknown field". */
const NOT_SUPPORTED = new Set([
  'seLinuxOptions',
  'windowsOptions',
  'appArmorProfile',
  'sysctls',
  'procMount',
  'fsGroupChangePolicy',
  'seLinuxChangePolicy',
  'supplementalGroupsPolicy',
  'ephemeralContainers',
  'serviceAccountName',
  'serviceAccount',
  'automountServiceAccountToken',
  'hostPID',
  'hostIPC',
  'hostAliases',
  'dnsPolicy',
  'dnsConfig',
  'priority',
  'runtimeClassName',
  'stdin',
  'stdinOnce',
  'tty',
  'volumeDevices',
  'persistentVolumeClaim',
  'nfs',
  'downwardAPI',
  'projected',
  'preferredDuringSchedulingIgnoredDuringExecution',
  'matchFields',
  'progressDeadlineSeconds',
  'paused',
  'updateStrategy',
  'suspend',
  'completionMode',
  'podFailurePolicy',
  'manualSelector',
  'finalizers',
  'generateName',
  'rollingUpdate',
  'externalIPs',
  'loadBalancerIP',
  'loadBalancerSourceRanges',
  'loadBalancerClass',
  'allocateLoadBalancerNodePorts',
  'healthCheckNodePort',
  'trafficDistribution',
  'appProtocol',
]);

const SERVER_SET_METADATA = [
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
];

/** Split a file's text into documents (empty documents skipped), or throw on YAML syntax errors. */
export function parseManifestText(text: string, source: string): RawDocument[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  const errors = list.flatMap((d, i) =>
    d.errors.map(
      (e) =>
        `${source}:${lineCounter.linePos(e.pos[0]).line}: document ${i + 1}: invalid YAML: ${e.message.split('\n')[0]}`,
    ),
  );
  if (errors.length > 0) throw new ManifestError(errors);
  const problems: string[] = [];
  const out = list.flatMap((doc, i): RawDocument[] => {
    const start = (doc.contents as { range?: [number, number, number] } | null)?.range?.[0];
    let value: unknown;
    try {
      // Aliases expand at most the yaml package's maxAliasCount (100) times: no billion laughs.
      value = doc.toJS();
    } catch (err) {
      const line = start === undefined ? '' : `:${lineCounter.linePos(start).line}`;
      problems.push(`${source}${line}: document ${i + 1}: invalid YAML: ${(err as Error).message}`);
      return [];
    }
    if (value === null || value === undefined) return [];
    const raw: RawDocument = {
      source,
      document: i + 1,
      line: start === undefined ? undefined : lineCounter.linePos(start).line,
      value,
      lineOf: (path) => lineOfPath(doc, lineCounter, path),
    };
    if ((value as { kind?: unknown }).kind !== 'List') return [raw];
    const { apiVersion, items, metadata: _m, ...rest } = value as Record<string, unknown>;
    const at = (path: Array<string | number>, message: string) =>
      problems.push(
        `${where(raw, raw.lineOf?.(path) ?? raw.line)}: ${documentLabel(raw)} (List): ${formatPath(path)}: ${message}`,
      );
    if (apiVersion !== 'v1') at(['apiVersion'], 'must be "v1" for List');
    for (const key of Object.keys(rest)) if (key !== 'kind') at([key], 'unknown field');
    if (!Array.isArray(items)) {
      at(['items'], 'must be a list of objects');
      return [];
    }
    return items.map((item, j) => ({
      ...raw,
      item: j,
      line: raw.lineOf?.(['items', j]) ?? raw.line,
      value: item,
      lineOf: (path) => raw.lineOf?.(['items', j, ...path]),
    }));
  });
  if (problems.length > 0) throw new ManifestError(problems);
  return out;
}

/** Refuse an apply of more documents than MAX_DOCUMENTS_PER_APPLY, before looking at any of them. */
export function checkDocumentCount(count: number): void {
  if (count > MAX_DOCUMENTS_PER_APPLY)
    throw new ManifestError([
      `this apply has ${count} documents, over the limit of ${MAX_DOCUMENTS_PER_APPLY} per apply: apply fewer at a time`,
    ]);
}

/** Validate documents (from one or several files) as one apply: all problems, or the manifests. */
export function validateDocuments(docs: RawDocument[]): Manifest[] {
  checkDocumentCount(docs.length);
  const problems: string[] = [];
  const out: Manifest[] = [];
  const seen = new Map<string, ManifestOrigin>();
  for (const doc of docs) {
    const result = validateDocument(doc);
    if (typeof result === 'string' || Array.isArray(result)) {
      problems.push(...(Array.isArray(result) ? result : [result]));
      continue;
    }
    const id = refId(result.object);
    const first = seen.get(id);
    if (first) {
      problems.push(
        `${where(doc, doc.line)}: ${header(doc, result.object.kind, result.object.metadata.name)}: ${describeObject(result.object)} is also ${first.source === doc.source ? '' : `${first.source} `}${documentLabel(first)}; an object may appear once per apply`,
      );
      continue;
    }
    seen.set(id, doc);
    out.push(result);
  }
  if (problems.length > 0) throw new ManifestError(problems);
  return out;
}

/** parseManifestText + validateDocuments. */
export function validateManifestText(text: string, source: string): Manifest[] {
  return validateDocuments(parseManifestText(text, source));
}

const refId = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const where = (o: ManifestOrigin, line: number | undefined) =>
  line === undefined ? o.source : `${o.source}:${line}`;
const header = (o: ManifestOrigin, kind: unknown, name: unknown) =>
  `${documentLabel(o)} (${typeof kind === 'string' ? kind : 'no kind'} ${typeof name === 'string' ? name : 'no name'})`;

function validateDocument(doc: RawDocument): Manifest | string | string[] {
  const v = doc.value;
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return `${where(doc, doc.line)}: ${documentLabel(doc)}: expected a mapping with apiVersion, kind and metadata`;
  const raw = structuredClone(v) as Record<string, unknown>;
  const meta = raw.metadata as Record<string, unknown> | undefined;
  const kind = raw.kind;
  const name = meta && typeof meta === 'object' ? meta.name : undefined;
  const line = (path: Array<string | number>) => doc.lineOf?.(path) ?? doc.line;
  const problem = (path: Array<string | number>, message: string) =>
    `${where(doc, line(path))}: ${header(doc, kind, name)}: ${path.length > 0 ? `${formatPath(path)}: ` : ''}${message}`;

  if (kind === undefined) return problem(['kind'], 'required field is missing');
  if (typeof kind !== 'string' || !KINDS.includes(kind as Kind))
    return problem(
      ['kind'],
      `unknown kind ${JSON.stringify(kind)} (nokube supports ${KINDS.filter((x) => !CONTROLLER_MADE_KINDS.includes(x)).join(', ')})`,
    );
  const k = kind as Kind;
  if (CONTROLLER_MADE_KINDS.includes(k))
    return problem(
      ['kind'],
      k === 'EndpointSlice'
        ? "EndpointSlices are made by nokube's EndpointSlice controller from a Service's selector; apply the Service instead"
        : `${k}s are made by their Deployment (one per revision); apply the Deployment instead`,
    );
  const problems: string[] = [];
  if (raw.apiVersion === undefined) problems.push(problem(['apiVersion'], 'required field is missing'));
  else if (raw.apiVersion !== API_VERSION[k])
    problems.push(problem(['apiVersion'], `must be "${API_VERSION[k]}" for ${k}`));
  delete raw.status;
  if (meta && typeof meta === 'object' && !Array.isArray(meta)) {
    for (const f of SERVER_SET_METADATA) delete meta[f];
    if (!namespaced(k) && meta.namespace !== undefined)
      problems.push(problem(['metadata', 'namespace'], `not allowed for a ${k}`));
  }
  const parsed = KIND_SCHEMAS[k].safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const p of describeIssue(issue, raw, () => undefined)) {
        const path = [...issue.path] as Array<string | number>;
        if (issue.code === 'unrecognized_keys') {
          for (const key of issue.keys)
            problems.push(
              problem([...path, key], NOT_SUPPORTED.has(key) ? 'not supported' : 'unknown field'),
            );
          break;
        }
        problems.push(problem(path, p.message));
      }
    }
    return problems;
  }
  for (const [path, message] of crossFieldProblems(k, parsed.data as Record<string, unknown>))
    problems.push(problem(path, message));
  if (problems.length > 0) return problems;
  return { object: normalize(k, parsed.data as Record<string, unknown>), origin: originOf(doc) };
}

const originOf = (d: RawDocument): ManifestOrigin => ({
  source: d.source,
  document: d.document,
  ...(d.item === undefined ? {} : { item: d.item }),
  ...(d.line === undefined ? {} : { line: d.line }),
});

function normalize(kind: Kind, m: Record<string, unknown>): KubeObject {
  const metadata = m.metadata as { namespace?: string };
  if (namespaced(kind)) metadata.namespace ??= DEFAULT_NAMESPACE;
  if (kind === 'Service') {
    // k8s: an empty clusterIP asks for one to be allocated, as an absent one does.
    const spec = m.spec as { clusterIP?: string; clusterIPs?: string[] };
    if (spec.clusterIP === '') delete spec.clusterIP;
    if (spec.clusterIPs?.length === 0 || spec.clusterIPs?.[0] === '') delete spec.clusterIPs;
  }
  if (kind === 'Secret') {
    const { stringData, ...rest } = m as {
      stringData?: Record<string, string>;
      data?: Record<string, string>;
    };
    if (stringData) {
      rest.data = { ...rest.data };
      for (const [key, value] of Object.entries(stringData))
        rest.data[key] = Buffer.from(value).toString('base64');
    }
    return { type: 'Opaque', ...rest } as unknown as KubeObject;
  }
  return m as unknown as KubeObject;
}
