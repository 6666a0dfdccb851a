// Cluster-config validation: a table of bad inputs, each with the exact problems it must report.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDocument } from 'yaml';
import { DOCUMENTED_DEFAULTS } from '../agent/config/defaults.ts';
import { getAtPath, parsePath, setAtPath } from '../agent/config/path.ts';
import { podNetworkOf } from '../agent/config/schema.ts';
import { CONFIG_TEMPLATE } from '../agent/config/template.ts';
import { ConfigError, validateConfigText } from '../agent/config/validate.ts';

const GOOD = `cluster: demo
etcd:
  endpoints: [http://10.0.0.1:2379]
head:
  port: 7480
mesh:
  port: 7946
nodes:
  - name: a
    address: 10.0.0.1
    roles: [head, worker]
    workspace: /var/lib/nokube
  - name: b
    address: 10.0.0.2
    roles: [worker]
    labels: { zone: b }
    workspace: /var/lib/nokube
`;

function problems(text: string): string[] {
  try {
    validateConfigText(text, 'cluster.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err.message.split('\n');
  }
  return [];
}

describe('cluster config validation', () => {
  test('a good config validates, with only documented defaults filled in', () => {
    const { config } = validateConfigText(GOOD, 'cluster.yaml');
    assert.equal(config.cluster, 'demo');
    assert.deepEqual(config.nodes[0]!.labels, DOCUMENTED_DEFAULTS['nodes[].labels']);
    assert.equal(config.mesh.heartbeatMs, DOCUMENTED_DEFAULTS['mesh.heartbeatMs']);
    assert.equal(config.mesh.suspectAfterMs, DOCUMENTED_DEFAULTS['mesh.suspectAfterMs']);
    assert.equal(config.mesh.deadAfterMs, DOCUMENTED_DEFAULTS['mesh.deadAfterMs']);
    assert.deepEqual(config.mesh.bootstrap, DOCUMENTED_DEFAULTS['mesh.bootstrap']);
    assert.equal(config.etcd.dialTimeoutMs, DOCUMENTED_DEFAULTS['etcd.dialTimeoutMs']);
    assert.equal(config.monitoring, undefined);
    assert.deepEqual(config.audit, {
      maxSizeMB: DOCUMENTED_DEFAULTS['audit.maxSizeMB'],
      maxFiles: DOCUMENTED_DEFAULTS['audit.maxFiles'],
    });
  });

  test('audit rotation: a size above 0 (fractions too), at least one rotated file', () => {
    const audit = (body: string) => `${GOOD}audit:\n${body}`;
    assert.deepEqual(validateConfigText(audit('  maxSizeMB: 0.5\n'), 'cluster.yaml').config.audit, {
      maxSizeMB: 0.5,
      maxFiles: DOCUMENTED_DEFAULTS['audit.maxFiles'],
    });
    assert.deepEqual(problems(audit('  maxSizeMB: 0\n  maxFiles: 0\n')), [
      'cluster.yaml:19: audit.maxSizeMB: must be > 0',
      'cluster.yaml:20: audit.maxFiles: must be >= 1',
    ]);
  });

  test('GreptimeDB database names as GreptimeDB takes them (case kept, "_", ":", ".", "@", "#")', () => {
    for (const db of ['public', 'nokube_Metrics', '_x', 'a.b', 'edge:1', 'team@site#2']) {
      const { config } = validateConfigText(
        `${GOOD}monitoring:\n  metricsIntervalSeconds: 5\n  greptimedb: { address: h, httpPort: 1, db: "${db}", logsDb: "${db}" }\n  grafana: { address: h, port: 2 }\n`,
        'cluster.yaml',
      );
      assert.equal(config.monitoring?.greptimedb.db, db);
      assert.equal(config.monitoring?.greptimedb.logsDb, db);
    }
  });

  test('network: absent or empty, a pod network with every documented default; mode host, none', () => {
    assert.deepEqual(
      validateConfigText(GOOD, 'cluster.yaml').config.network,
      validateConfigText(`${GOOD}network: {}\n`, 'cluster.yaml').config.network,
    );
    const host = validateConfigText(`${GOOD}network: {mode: host}\n`, 'cluster.yaml').config;
    assert.equal(podNetworkOf(host), undefined);
    const { config } = validateConfigText(`${GOOD}network: {}\n`, 'cluster.yaml');
    assert.equal(podNetworkOf(config), config.network);
    assert.deepEqual(config.network, {
      mode: DOCUMENTED_DEFAULTS['network.mode'],
      podCidr: DOCUMENTED_DEFAULTS['network.podCidr'],
      nodeMaskSize: DOCUMENTED_DEFAULTS['network.nodeMaskSize'],
      serviceCidr: DOCUMENTED_DEFAULTS['network.serviceCidr'],
      nodePortRange: DOCUMENTED_DEFAULTS['network.nodePortRange'],
      clusterDomain: DOCUMENTED_DEFAULTS['network.clusterDomain'],
      backend: DOCUMENTED_DEFAULTS['network.backend'],
      sandboxImage: DOCUMENTED_DEFAULTS['network.sandboxImage'],
      resolvConf: DOCUMENTED_DEFAULTS['network.resolvConf'],
    });
    const exact = validateConfigText(
      `${GOOD}network:\n  podCidr: 10.42.0.0/23\n  nodeMaskSize: 24\n  nodePortRange: 80-80\n`,
      'cluster.yaml',
    );
    assert.equal(exact.config.network?.nodePortRange, '80-80');
  });

  test('the template that new-or-update writes is a valid config', () => {
    const { config } = validateConfigText(CONFIG_TEMPLATE, 'cluster.yaml');
    assert.equal(config.nodes.length, 2);
    assert.equal(config.network?.podCidr, '10.42.0.0/16');
  });

  const cases: Array<[string, string, string[]]> = [
    [
      'malformed YAML',
      'cluster: [demo\n',
      [
        'cluster.yaml:2: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
      ],
    ],
    ['empty file', '', ['cluster.yaml: the file is empty']],
    ['unknown top-level field', GOOD + 'colour: red\n', ['cluster.yaml:18: colour: unknown field']],
    [
      'unknown nested field',
      GOOD.replace('  port: 7946', '  port: 7946\n  gossip: fast'),
      ['cluster.yaml:8: mesh.gossip: unknown field'],
    ],
    [
      'missing cluster name',
      GOOD.replace('cluster: demo\n', ''),
      ['cluster.yaml:1: cluster: required field is missing'],
    ],
    [
      'missing etcd endpoints',
      GOOD.replace('  endpoints: [http://10.0.0.1:2379]\n', '  dialTimeoutMs: 100\n'),
      ['cluster.yaml:2: etcd.endpoints: required field is missing'],
    ],
    [
      'missing head section',
      GOOD.replace('head:\n  port: 7480\n', ''),
      ['cluster.yaml:1: head: required field is missing'],
    ],
    [
      'wrong type for a port',
      GOOD.replace('port: 7480', 'port: "7480"'),
      ['cluster.yaml:5: head.port: expected number, got string "7480"'],
    ],
    [
      'port out of range',
      GOOD.replace('port: 7946', 'port: 70000'),
      ['cluster.yaml:7: mesh.port: must be <= 65535'],
    ],
    [
      'bad etcd URL',
      GOOD.replace('http://10.0.0.1:2379', '10.0.0.1:2379'),
      ['cluster.yaml:3: etcd.endpoints[0]: must be a URL such as http://10.0.0.1:2379'],
    ],
    [
      'bad cluster name',
      GOOD.replace('cluster: demo', 'cluster: Demo_1'),
      ['cluster.yaml:1: cluster: must be an RFC 1123 label (a-z, 0-9, "-", at most 63 characters)'],
    ],
    [
      'a node listed twice',
      GOOD.replace('name: b', 'name: a'),
      ['cluster.yaml:13: nodes[1].name: node "a" is listed twice (also nodes[0])'],
    ],
    [
      'two nodes on one address',
      GOOD.replace('address: 10.0.0.2', 'address: 10.0.0.1'),
      [
        'cluster.yaml:14: nodes[1].address: address 10.0.0.1 is also nodes[0].address (each node needs its own address)',
      ],
    ],
    [
      'unknown role',
      GOOD.replace('roles: [worker]', 'roles: [master]'),
      ['cluster.yaml:15: nodes[1].roles[0]: must be one of "head", "worker"'],
    ],
    [
      'no head node',
      GOOD.replace('roles: [head, worker]', 'roles: [worker]'),
      ['cluster.yaml:8: nodes: no node has the head role (at least one is needed)'],
    ],
    [
      'relative workspace',
      GOOD.replace('workspace: /var/lib/nokube\n  - name: b', 'workspace: var/lib\n  - name: b'),
      ['cluster.yaml:12: nodes[0].workspace: must be an absolute path'],
    ],
    [
      'bad label key',
      GOOD.replace('{ zone: b }', '{ "bad key": b }'),
      [
        'cluster.yaml:16: nodes[1].labels.bad key: label key must be [prefix/]name with alphanumerics, "-", "_", "."',
      ],
    ],
    [
      'missing node fields',
      GOOD.replace('    address: 10.0.0.2\n', '').replace('    roles: [worker]\n', ''),
      [
        'cluster.yaml:13: nodes[1].address: required field is missing',
        'cluster.yaml:13: nodes[1].roles: required field is missing',
      ],
    ],
    [
      'timing out of order',
      GOOD.replace('  port: 7946', '  port: 7946\n  heartbeatMs: 5000'),
      ['cluster.yaml:6: mesh.suspectAfterMs: must be greater than mesh.heartbeatMs'],
    ],
    [
      'same head and mesh port',
      GOOD.replace('port: 7946', 'port: 7480'),
      ['cluster.yaml:5: head.port: must differ from mesh.port'],
    ],
    [
      'bad bootstrap address',
      GOOD.replace('  port: 7946', '  port: 7946\n  bootstrap: [10.0.0.9]'),
      ['cluster.yaml:8: mesh.bootstrap[0]: must be a multiaddr (/ip4/10.0.0.1/tcp/7946) or host:port'],
    ],
    [
      'no nodes',
      GOOD.slice(0, GOOD.indexOf('nodes:')) + 'nodes: []\n',
      ['cluster.yaml:8: nodes: needs at least one node'],
    ],
    [
      'ssh without a way to check the host key',
      GOOD.replace(
        'roles: [worker]\n',
        'roles: [worker]\n    ssh: { user: root, port: 22, installDir: /opt/nokube }\n',
      ),
      ['cluster.yaml:16: nodes[1].ssh: needs exactly one of knownHosts (a file) or hostKey (the pinned key)'],
    ],
    [
      'ssh with both known_hosts and a pinned key',
      GOOD.replace(
        'roles: [worker]\n',
        'roles: [worker]\n    ssh: { user: root, port: 22, installDir: /opt/nokube, knownHosts: /k, hostKey: "ssh-ed25519 AAAA" }\n',
      ),
      ['cluster.yaml:16: nodes[1].ssh: needs exactly one of knownHosts (a file) or hostKey (the pinned key)'],
    ],
    [
      'ssh with a malformed pinned key and no install dir',
      GOOD.replace(
        'roles: [worker]\n',
        'roles: [worker]\n    ssh: { user: root, port: 22, hostKey: "AAAA" }\n',
      ),
      [
        'cluster.yaml:16: nodes[1].ssh.hostKey: must be an OpenSSH public key line ("ssh-ed25519 AAAA...")',
        'cluster.yaml:16: nodes[1].ssh.installDir: required field is missing',
      ],
    ],
    [
      'GreptimeDB database names with "-" (catalog-database) or characters GreptimeDB refuses',
      `${GOOD}monitoring:
  metricsIntervalSeconds: 5
  greptimedb:
    address: 10.0.0.1
    httpPort: 4000
    db: edge-metrics
    logsDb: logs/2
  grafana: { address: 10.0.0.1, port: 3000 }
`,
      [
        'cluster.yaml:23: monitoring.greptimedb.db: "edge-metrics" has a "-", which GreptimeDB reads as <catalog>-<database>: use "_" instead',
        'cluster.yaml:24: monitoring.greptimedb.logsDb: must be a GreptimeDB database name: a letter, "_" or ":" first, then letters, digits, "_", ":", ".", "@", "#"',
      ],
    ],
    [
      'a GreptimeDB database of its own',
      `${GOOD}monitoring:
  metricsIntervalSeconds: 5
  greptimedb: { address: 10.0.0.1, httpPort: 4000, db: information_schema, logsDb: 1logs }
  grafana: { address: 10.0.0.1, port: 3000 }
`,
      [
        'cluster.yaml:20: monitoring.greptimedb.db: "information_schema" is GreptimeDB\'s own read-only database',
        'cluster.yaml:20: monitoring.greptimedb.logsDb: must be a GreptimeDB database name: a letter, "_" or ":" first, then letters, digits, "_", ":", ".", "@", "#"',
      ],
    ],
    [
      'a pod CIDR that does not parse, host bits set, an IPv6 block',
      `${GOOD}network:\n  podCidr: 10.42.0/16\n  serviceCidr: 10.43.0.1/16\n`,
      [
        'cluster.yaml:19: network.podCidr: "10.42.0" is not an IPv4 address',
        'cluster.yaml:20: network.serviceCidr: "10.43.0.1/16" has host bits set (the network is 10.43.0.0/16)',
      ],
    ],
    [
      'overlapping pod and service CIDRs',
      `${GOOD}network:\n  podCidr: 10.0.0.0/8\n  serviceCidr: 10.43.0.0/16\n`,
      ['cluster.yaml:20: network.serviceCidr: overlaps network.podCidr 10.0.0.0/8'],
    ],
    [
      'a node subnet larger than the pod CIDR',
      `${GOOD}network:\n  podCidr: 10.42.0.0/16\n  nodeMaskSize: 12\n`,
      [
        'cluster.yaml:20: network.nodeMaskSize: must be >= the prefix of network.podCidr (16): a node subnet is part of it',
      ],
    ],
    [
      'a node subnet past /30',
      `${GOOD}network:\n  nodeMaskSize: 31\n`,
      ['cluster.yaml:19: network.nodeMaskSize: must be <= 30'],
    ],
    [
      'a pod CIDR too small for the nodes',
      `${GOOD}network:\n  podCidr: 10.42.0.0/24\n  nodeMaskSize: 24\n`,
      ['cluster.yaml:19: network.podCidr: 10.42.0.0/24 holds 1 node subnets of /24, nodes[] has 2 nodes'],
    ],
    [
      'bad node port ranges, backend and cluster domain',
      `${GOOD}network:\n  nodePortRange: 32767-30000\n  backend: flannel\n  clusterDomain: Cluster_Local\n`,
      [
        'cluster.yaml:19: network.nodePortRange: "32767-30000" must be a port range a-b with 1 <= a <= b <= 65535',
        'cluster.yaml:21: network.clusterDomain: must be a DNS name (RFC 1123 labels separated by ".")',
        'cluster.yaml:20: network.backend: must be one of "host-gw", "vxlan"',
      ],
    ],
    [
      'a node port range past 65535',
      `${GOOD}network:\n  nodePortRange: 0-70000\n`,
      [
        'cluster.yaml:19: network.nodePortRange: "0-70000" must be a port range a-b with 1 <= a <= b <= 65535',
      ],
    ],
    [
      'duplicate YAML key',
      GOOD + 'cluster: again\n',
      ['cluster.yaml:18: invalid YAML: Map keys must be unique'],
    ],
  ];
  for (const [name, text, expected] of cases) {
    test(`refuses: ${name}`, () => {
      assert.deepEqual(problems(text), expected);
    });
  }
});

describe('config paths', () => {
  test('parse dotted and indexed paths', () => {
    assert.deepEqual(parsePath('nodes[1].labels.zone'), ['nodes', 1, 'labels', 'zone']);
    assert.deepEqual(parsePath('mesh.port'), ['mesh', 'port']);
    assert.throws(() => parsePath('nodes[x]'), /bad path/);
  });

  test('get by index or by node name', () => {
    const doc = parseDocument(GOOD);
    assert.equal(getAtPath(doc, 'nodes[1].labels.zone'), 'b');
    assert.equal(getAtPath(doc, 'nodes.b.address'), '10.0.0.2');
    assert.throws(() => getAtPath(doc, 'nodes.zz.address'), /no item named "zz"/);
    assert.throws(() => getAtPath(doc, 'mesh.nothing'), /mesh.nothing: not set/);
  });

  test('set keeps comments and creates missing maps', () => {
    const doc = parseDocument(`# top comment\n${GOOD}`);
    setAtPath(doc, 'nodes.a.labels.zone', 'a');
    setAtPath(doc, 'mesh.port', '8000');
    const text = doc.toString();
    assert.match(text, /# top comment/);
    const { config } = validateConfigText(text, 'x');
    assert.deepEqual(config.nodes[0]!.labels, { zone: 'a' });
    assert.equal(config.mesh.port, 8000);
  });
});
