// Manifest validation: a table of bad manifests, each with the exact lines it must report, and good ones.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withDefaults } from '../agent/objects/defaults.ts';
import type { ConfigMap, Deployment, Pod, Secret } from '../agent/objects/types.ts';
import { ManifestError, parseCpu, parseMemory, validateManifestText } from '../agent/objects/validate.ts';

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: c
      image: busybox
`;
const DEPLOY = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: busybox
`;
const JOB = `apiVersion: batch/v1
kind: Job
metadata:
  name: once
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: once
          image: busybox
`;

function problems(text: string): string[] {
  try {
    validateManifestText(text, 'm.yaml');
  } catch (err) {
    assert.ok(err instanceof ManifestError, `expected ManifestError, got ${err}`);
    return err.problems;
  }
  return [];
}

const C = 'spec.template.spec.containers[0]';
const SUB =
  "must be a lowercase RFC 1123 subdomain: at most 253 characters of a-z, 0-9, '-' or '.', starting and ending with a letter or digit";
const LABEL =
  "must be a lowercase RFC 1123 label: at most 63 characters of a-z, 0-9 or '-', starting and ending with a letter or digit";

describe('manifest validation', () => {
  test('good manifests: defaults as kubectl, server-set metadata and status ignored, stringData folded', () => {
    const out = validateManifestText(
      `${DEPLOY.replace('  name: web\n', '  name: web\n  uid: x\n  resourceVersion: "9"\n  generation: 4\n  creationTimestamp: "2020-01-01T00:00:00Z"\n')}status: {replicas: 3}\n---\n${POD}---\n${JOB}---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: YQ==}\nstringData: {b: bee}\n---\n{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}, "data": {"k": "v"}}\n`,
      'm.yaml',
    );
    assert.deepEqual(
      out.map((m) => [m.object.kind, m.object.metadata.namespace, m.origin.document, m.origin.line]),
      [
        ['Deployment', 'default', 1, 1],
        ['Pod', 'default', 2, 21],
        ['Job', 'default', 3, 30],
        ['Secret', 'default', 4, 42],
        ['ConfigMap', 'default', 5, 48],
      ],
    );
    const d = out[0]!.object as Deployment;
    assert.deepEqual(d.metadata, { name: 'web', namespace: 'default' });
    assert.equal((d as { status?: unknown }).status, undefined);
    const s = out[3]!.object as Secret;
    assert.deepEqual(s.data, { a: 'YQ==', b: Buffer.from('bee').toString('base64') });
    assert.equal(s.type, 'Opaque');
    assert.equal('stringData' in s, false);
    assert.deepEqual((out[4]!.object as ConfigMap).data, { k: 'v' });
    assert.deepEqual(problems('# only a comment\n---\n'), []);
  });

  test("probes are accepted with k8s' defaults stored (0 means the default); hooks' httpGet is not defaulted", () => {
    const [m] = validateManifestText(
      POD.replace(
        'image: busybox',
        'image: busybox\n      ports: [{containerPort: 8080, name: http}]\n      readinessProbe: {httpGet: {port: http, httpHeaders: [{name: X-A, value: "1"}]}, periodSeconds: 0}\n      livenessProbe: {grpc: {port: 9000, service: s}, initialDelaySeconds: 3, failureThreshold: 5, terminationGracePeriodSeconds: 4}\n      startupProbe: {exec: {command: [cat, /ok]}, successThreshold: 0}\n      lifecycle: {preStop: {httpGet: {port: 80}}}',
      ),
      'm.yaml',
    );
    const c = withDefaults(m!.object as Pod).spec.containers[0]!;
    const counts = { periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 };
    assert.deepEqual(c.readinessProbe, {
      httpGet: { port: 'http', path: '/', scheme: 'HTTP', httpHeaders: [{ name: 'X-A', value: '1' }] },
      ...counts,
    });
    assert.deepEqual(c.livenessProbe, {
      grpc: { port: 9000, service: 's' },
      initialDelaySeconds: 3,
      terminationGracePeriodSeconds: 4,
      ...counts,
      failureThreshold: 5,
    });
    assert.deepEqual(c.startupProbe, { exec: { command: ['cat', '/ok'] }, ...counts });
    assert.deepEqual(c.lifecycle?.preStop, { httpGet: { port: 80 } });
  });

  test('a List (as `get -o yaml` prints several objects) is applied as its items', () => {
    const list = `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: a, uid: x}
    data: {k: v}
  - apiVersion: v1
    kind: Namespace
    metadata: {name: team}
    status: {phase: Active}
`;
    const out = validateManifestText(`${POD}---\n${list}`, 'm.yaml');
    assert.deepEqual(
      out.map((m) => [m.object.kind, m.object.metadata.name, m.origin]),
      [
        ['Pod', 'p', { source: 'm.yaml', document: 1, line: 1 }],
        ['ConfigMap', 'a', { source: 'm.yaml', document: 2, item: 0, line: 13 }],
        ['Namespace', 'team', { source: 'm.yaml', document: 2, item: 1, line: 17 }],
      ],
    );
  });

  test('quantities', () => {
    assert.equal(parseCpu('250m'), 0.25);
    assert.equal(parseCpu('2'), 2);
    assert.equal(parseCpu('0.5'), 0.5);
    assert.equal(parseMemory('64Mi'), 67108864);
    assert.equal(parseMemory('1G'), 1e9);
    assert.equal(parseMemory('128974848'), 128974848);
    assert.equal(parseMemory('1e3'), 1000);
    assert.throws(() => parseMemory('12MB'), /quantities must match/);
  });

  const cases: Array<[string, string, string[]]> = [
    [
      'YAML syntax',
      'kind: [Pod\n',
      [
        'm.yaml:2: document 1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
      ],
    ],
    [
      'YAML aliases expanding without bound (a billion laughs)',
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n${Array.from(
        { length: 9 },
        (_, i) => `  a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]\n`,
      ).join('')}`,
      ['m.yaml:1: document 1: invalid YAML: Excessive alias count indicates a resource exhaustion attack'],
    ],
    [
      'not a mapping',
      '- a\n- b\n',
      ['m.yaml:1: document 1: expected a mapping with apiVersion, kind and metadata'],
    ],
    [
      'kind missing',
      'apiVersion: v1\nmetadata: {name: x}\n',
      ['m.yaml:1: document 1 (no kind x): kind: required field is missing'],
    ],
    [
      'unknown kind',
      'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: x}\n',
      [
        'm.yaml:2: document 1 (Ingress x): kind: unknown kind "Ingress" (nokube supports Namespace, ConfigMap, Secret, Pod, Deployment, DaemonSet, Job, Service, PriorityClass, ResourceQuota, LimitRange, ImagePrewarm, CronJob, PodDisruptionBudget)',
      ],
    ],
    [
      'wrong apiVersion',
      DEPLOY.replace('apps/v1', 'v1'),
      ['m.yaml:1: document 1 (Deployment web): apiVersion: must be "apps/v1" for Deployment'],
    ],
    [
      'apiVersion missing',
      POD.replace('apiVersion: v1\n', ''),
      ['m.yaml:1: document 1 (Pod p): apiVersion: required field is missing'],
    ],
    [
      'name missing',
      POD.replace('  name: p\n', '  labels: {a: b}\n'),
      ['m.yaml:3: document 1 (Pod no name): metadata.name: required field is missing'],
    ],
    [
      'bad name',
      POD.replace('name: p', 'name: My_Pod'),
      [`m.yaml:4: document 1 (Pod My_Pod): metadata.name: ${SUB}`],
    ],
    [
      'bad namespace',
      POD.replace('name: p', 'name: p\n  namespace: a.b'),
      [`m.yaml:5: document 1 (Pod p): metadata.namespace: ${LABEL}`],
    ],
    [
      'bad label key',
      POD.replace('name: p', 'name: p\n  labels: {"-x": "1"}'),
      [
        `m.yaml:5: document 1 (Pod p): metadata.labels.-x: invalid key "-x": the name must be at most 63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit (optionally prefixed by a DNS subdomain and '/')`,
      ],
    ],
    [
      'bad label value',
      POD.replace('name: p', 'name: p\n  labels: {a: "x y"}'),
      [
        `m.yaml:5: document 1 (Pod p): metadata.labels.a: invalid value "x y": must be empty or at most 63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
      ],
    ],
    [
      'label value not a string',
      POD.replace('name: p', 'name: p\n  labels: {v: 1}'),
      ['m.yaml:5: document 1 (Pod p): metadata.labels.v: expected string, got number 1'],
    ],
    [
      'image missing',
      POD.replace('      image: busybox\n', ''),
      ['m.yaml:7: document 1 (Pod p): spec.containers[0].image: required field is missing'],
    ],
    [
      'image empty',
      POD.replace('image: busybox', 'image: ""'),
      ['m.yaml:8: document 1 (Pod p): spec.containers[0].image: must not be empty'],
    ],
    [
      'unsupported field',
      DEPLOY.replace('image: busybox', 'image: busybox\n          securityContext: {procMount: Unmasked}'),
      [`m.yaml:15: document 1 (Deployment web): ${C}.securityContext.procMount: not supported`],
    ],
    [
      'a probe without a handler, or with two',
      DEPLOY.replace(
        'image: busybox',
        'image: busybox\n          livenessProbe: {periodSeconds: 5}\n          startupProbe: {exec: {command: ["true"]}, tcpSocket: {port: 80}}',
      ),
      [
        `m.yaml:15: document 1 (Deployment web): ${C}.livenessProbe: exactly one of exec, httpGet, tcpSocket, grpc is required`,
        `m.yaml:16: document 1 (Deployment web): ${C}.startupProbe: exactly one of exec, httpGet, tcpSocket, grpc is required`,
      ],
    ],
    [
      'liveness and startup probes succeed once; a readiness probe has no grace',
      DEPLOY.replace(
        'image: busybox',
        'image: busybox\n          livenessProbe: {exec: {command: ["true"]}, successThreshold: 2}\n          startupProbe: {grpc: {port: 9000}, successThreshold: 3}\n          readinessProbe: {tcpSocket: {port: 80}, successThreshold: 3, terminationGracePeriodSeconds: 5}',
      ),
      [
        `m.yaml:15: document 1 (Deployment web): ${C}.livenessProbe.successThreshold: must be 1 for a liveness probe`,
        `m.yaml:17: document 1 (Deployment web): ${C}.readinessProbe.terminationGracePeriodSeconds: must not be set for readinessProbes`,
        `m.yaml:16: document 1 (Deployment web): ${C}.startupProbe.successThreshold: must be 1 for a startup probe`,
      ],
    ],
    [
      'probe numbers: negative, a zero grace, a named gRPC port, a port name the container does not have',
      DEPLOY.replace(
        'image: busybox',
        'image: busybox\n          ports: [{containerPort: 80, name: web}]\n          livenessProbe: {httpGet: {port: http, httpHeaders: [{name: "a b", value: x}]}, periodSeconds: -1, terminationGracePeriodSeconds: 0}\n          readinessProbe: {grpc: {port: grpc}}\n          startupProbe: {tcpSocket: {port: web}, failureThreshold: 1.5}',
      ),
      [
        `m.yaml:16: document 1 (Deployment web): ${C}.livenessProbe.httpGet.httpHeaders[0].name: must be an HTTP header name (letters, digits and -!#$%&'*+.^_\`|~)`,
        `m.yaml:16: document 1 (Deployment web): ${C}.livenessProbe.periodSeconds: must be >= 0`,
        `m.yaml:16: document 1 (Deployment web): ${C}.livenessProbe.terminationGracePeriodSeconds: must be >= 1`,
        `m.yaml:17: document 1 (Deployment web): ${C}.readinessProbe.grpc.port: expected number, got string "grpc"`,
        `m.yaml:18: document 1 (Deployment web): ${C}.startupProbe.failureThreshold: expected int, got number 1.5`,
      ],
    ],
    [
      "a named probe port must be one of the container's ports",
      DEPLOY.replace(
        'image: busybox',
        'image: busybox\n          ports: [{containerPort: 80, name: web}]\n          readinessProbe: {httpGet: {port: http}}\n          livenessProbe: {tcpSocket: {port: web}}',
      ),
      [
        `m.yaml:16: document 1 (Deployment web): ${C}.readinessProbe.httpGet.port: no port named "http" in this container's ports`,
      ],
    ],
    [
      'lifecycle hook without exec or httpGet',
      DEPLOY.replace('image: busybox', 'image: busybox\n          lifecycle: {preStop: {}}'),
      [
        `m.yaml:15: document 1 (Deployment web): ${C}.lifecycle.preStop: exactly one of exec, httpGet is required`,
      ],
    ],
    [
      'unknown field',
      POD.replace('image: busybox', 'imagee: busybox'),
      [
        'm.yaml:7: document 1 (Pod p): spec.containers[0].image: required field is missing',
        'm.yaml:8: document 1 (Pod p): spec.containers[0].imagee: unknown field',
      ],
    ],
    [
      'no containers',
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n',
      ['m.yaml:4: document 1 (Pod p): spec.containers: at least one container is required'],
    ],
    [
      'duplicate container names',
      POD.replace('      image: busybox\n', '      image: busybox\n    - name: c\n      image: busybox\n'),
      ['m.yaml:9: document 1 (Pod p): spec.containers[1].name: duplicate container name "c"'],
    ],
    [
      'another scheduler',
      POD.replace('spec:\n', 'spec:\n  schedulerName: my-scheduler\n'),
      [
        'm.yaml:6: document 1 (Pod p): spec.schedulerName: must be "default-scheduler" (nokube has one scheduler)',
      ],
    ],
    [
      'an init container with a probe',
      `${POD}  initContainers:\n    - name: i\n      image: busybox\n      readinessProbe: {exec: {command: [true]}}\n`,
      [
        'm.yaml:12: document 1 (Pod p): spec.initContainers[0].readinessProbe: must not be set for init containers',
      ],
    ],
    [
      'an init container named as a container, or mounting an unknown volume',
      `${POD}  initContainers:\n    - name: c\n      image: busybox\n    - name: i\n      image: busybox\n      volumeMounts: [{name: data, mountPath: /data}]\n`,
      [
        'm.yaml:10: document 1 (Pod p): spec.initContainers[0].name: duplicate container name "c"',
        'm.yaml:14: document 1 (Pod p): spec.initContainers[1].volumeMounts[0].name: no volume named "data" in spec.volumes',
      ],
    ],
    [
      "a pod's containers repeat a port and protocol (the pods share the node's network)",
      POD.replace(
        '      image: busybox\n',
        '      image: busybox\n      ports: [{containerPort: 80}, {containerPort: 53, protocol: UDP}, {containerPort: 53}]\n    - name: d\n      image: busybox\n      ports: [{containerPort: 80, protocol: TCP}]\n',
      ),
      [
        'm.yaml:12: document 1 (Pod p): spec.containers[1].ports[0].containerPort: Duplicate value: "80/TCP" (pods share the node\'s network: every containerPort is a host port)',
      ],
    ],
    [
      'duplicate volume names',
      `${POD}  volumes:\n    - {name: v, emptyDir: {}}\n    - {name: v, emptyDir: {}}\n`,
      ['m.yaml:11: document 1 (Pod p): spec.volumes[1].name: duplicate volume name "v"'],
    ],
    [
      'mount of an unknown volume',
      POD.replace('image: busybox', 'image: busybox\n      volumeMounts: [{name: data, mountPath: /data}]'),
      [
        'm.yaml:9: document 1 (Pod p): spec.containers[0].volumeMounts[0].name: no volume named "data" in spec.volumes',
      ],
    ],
    [
      'volume without a source',
      `${POD}  volumes:\n    - {name: v}\n`,
      [
        'm.yaml:10: document 1 (Pod p): spec.volumes[0]: exactly one of configMap, secret, emptyDir, hostPath is required',
      ],
    ],
    [
      'relative mountPath',
      POD.replace('image: busybox', 'image: busybox\n      volumeMounts: [{name: v, mountPath: data}]'),
      // Cross-field rules (the unknown volume) run once the shape is right.
      [
        'm.yaml:9: document 1 (Pod p): spec.containers[0].volumeMounts[0].mountPath: must be an absolute path',
      ],
    ],
    [
      'bad cpu quantity',
      POD.replace('image: busybox', 'image: busybox\n      resources: {limits: {cpu: 1x}}'),
      [
        `m.yaml:9: document 1 (Pod p): spec.containers[0].resources.limits.cpu: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
      ],
    ],
    [
      'request above limit',
      POD.replace(
        'image: busybox',
        'image: busybox\n      resources: {limits: {memory: 64Mi}, requests: {memory: 1Gi}}',
      ),
      [
        'm.yaml:9: document 1 (Pod p): spec.containers[0].resources.requests.memory: must be less than or equal to the memory limit 64Mi',
      ],
    ],
    [
      'selector does not match template',
      DEPLOY.replace('labels: {app: web}', 'labels: {app: other}'),
      [
        'm.yaml:10: document 1 (Deployment web): spec.template.metadata.labels: selector does not match template labels',
      ],
    ],
    [
      'empty selector',
      DEPLOY.replace('matchLabels: {app: web}', 'matchLabels: {}'),
      [
        'm.yaml:6: document 1 (Deployment web): spec.selector: empty selector is invalid (it would match every pod)',
      ],
    ],
    [
      'Deployment restartPolicy',
      DEPLOY.replace(
        '    spec:\n      containers',
        '    spec:\n      restartPolicy: OnFailure\n      containers',
      ),
      [
        'm.yaml:12: document 1 (Deployment web): spec.template.spec.restartPolicy: must be Always for a Deployment',
      ],
    ],
    [
      'DaemonSet restartPolicy',
      DEPLOY.replace('kind: Deployment', 'kind: DaemonSet').replace(
        '    spec:\n      containers',
        '    spec:\n      restartPolicy: Never\n      containers',
      ),
      [
        'm.yaml:12: document 1 (DaemonSet web): spec.template.spec.restartPolicy: must be Always for a DaemonSet',
      ],
    ],
    [
      'Job restartPolicy Always',
      JOB.replace('Never', 'Always'),
      [
        'm.yaml:8: document 1 (Job once): spec.template.spec.restartPolicy: must be OnFailure or Never for a Job',
      ],
    ],
    [
      'Job restartPolicy missing',
      JOB.replace('      restartPolicy: Never\n', ''),
      [
        'm.yaml:7: document 1 (Job once): spec.template.spec.restartPolicy: required for a Job: OnFailure or Never',
      ],
    ],
    [
      'bad enum',
      POD.replace('image: busybox', 'image: busybox\n      imagePullPolicy: Sometimes'),
      [
        'm.yaml:9: document 1 (Pod p): spec.containers[0].imagePullPolicy: must be one of "Always", "IfNotPresent", "Never"',
      ],
    ],
    [
      'replicas negative',
      DEPLOY.replace('spec:\n  selector', 'spec:\n  replicas: -1\n  selector'),
      ['m.yaml:6: document 1 (Deployment web): spec.replicas: must be >= 0'],
    ],
    [
      'replicas a string',
      DEPLOY.replace('spec:\n  selector', 'spec:\n  replicas: "2"\n  selector'),
      ['m.yaml:6: document 1 (Deployment web): spec.replicas: expected number, got string "2"'],
    ],
    [
      'env value and valueFrom',
      POD.replace(
        'image: busybox',
        'image: busybox\n      env: [{name: A, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]',
      ),
      ['m.yaml:9: document 1 (Pod p): spec.containers[0].env[0].valueFrom: may not be set when value is'],
    ],
    [
      'unsupported fieldRef',
      POD.replace(
        'image: busybox',
        'image: busybox\n      env: [{name: A, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}]',
      ),
      [
        'm.yaml:9: document 1 (Pod p): spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: must be one of "metadata.name", "metadata.namespace", "spec.nodeName", "status.podIP"',
      ],
    ],
    [
      'Secret data not base64',
      'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: "not base64!"}\n',
      ['m.yaml:4: document 1 (Secret s): data.a: must be base64 (as in k8s; use stringData for plain text)'],
    ],
    [
      'ConfigMap bad key',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {"a b": x}\n',
      [
        `m.yaml:4: document 1 (ConfigMap c): data.a b: invalid key "a b": must be at most 253 characters of letters, digits, '-', '_' or '.'`,
      ],
    ],
    [
      'Namespace name with a dot (an RFC 1123 label, like metadata.namespace)',
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: team.a}\n',
      [`m.yaml:3: document 1 (Namespace team.a): metadata.name: ${LABEL}`],
    ],
    [
      'Namespace with namespace',
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: team, namespace: x}\n',
      ['m.yaml:3: document 1 (Namespace team): metadata.namespace: not allowed for a Namespace'],
    ],
    [
      'finalizers',
      POD.replace('name: p', 'name: p\n  finalizers: [x]'),
      ['m.yaml:5: document 1 (Pod p): metadata.finalizers: not supported'],
    ],
    [
      'ownerReference without uid',
      POD.replace(
        'name: p',
        'name: p\n  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: d}]',
      ),
      ['m.yaml:5: document 1 (Pod p): metadata.ownerReferences[0].uid: required field is missing'],
    ],
    [
      'same object twice',
      `${POD}---\n${POD.replace('name: p', 'name: p\n  namespace: default')}`,
      [
        'm.yaml:10: document 2 (Pod p): pods "p" in namespace default is also document 1; an object may appear once per apply',
      ],
    ],
    [
      'an item of a List',
      'apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: a}\n    data: {k: 1}\n',
      ['m.yaml:7: document 1 items[0] (ConfigMap a): data.k: expected string, got number 1'],
    ],
    [
      'a List without items, with another apiVersion and an unknown field',
      'apiVersion: v2\nkind: List\nfoo: 1\n',
      [
        'm.yaml:1: document 1 (List): apiVersion: must be "v1" for List',
        'm.yaml:3: document 1 (List): foo: unknown field',
        'm.yaml:1: document 1 (List): items: must be a list of objects',
      ],
    ],
    [
      'the same object in a List and in another document',
      `${POD}---\napiVersion: v1\nkind: List\nitems:\n${POD.replace(/^/gm, '    ').replace('    apiVersion', '  - apiVersion')}`,
      [
        'm.yaml:13: document 2 items[0] (Pod p): pods "p" in namespace default is also document 1; an object may appear once per apply',
      ],
    ],
    [
      'node affinity Gt takes one integer',
      `${POD}  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n          - matchExpressions:\n              - {key: cores, operator: Gt, values: ["4", "5"]}\n              - {key: cores, operator: Lt, values: ["64"]}\n`,
      [
        'm.yaml:14: document 1 (Pod p): spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: must be one integer for operator Gt',
      ],
    ],
    [
      'Gt is for node affinity, not label selectors',
      DEPLOY.replace(
        '    matchLabels: {app: web}\n',
        '    matchLabels: {app: web}\n    matchExpressions: [{key: n, operator: Gt, values: ["1"]}]\n',
      ),
      [
        'm.yaml:8: document 1 (Deployment web): spec.selector.matchExpressions[0].operator: must be one of "In", "NotIn", "Exists", "DoesNotExist"',
      ],
    ],
  ];

  for (const [name, text, expected] of cases) {
    test(name, () => {
      assert.deepEqual(problems(text), expected);
    });
  }

  test('the table covers at least 25 bad manifests', () => {
    assert.ok(cases.length >= 25);
  });
});
