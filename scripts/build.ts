// npm run build: dist/nokube, one self-contained executable.
// 1. esbuild bundles the CLI (agent + head) into one CommonJS file for Node 22.
// 2. Node makes a single-executable-application blob of it; postject injects the blob into a copy of the
//    Node 22 binary from the `node` npm package. The result runs on a host without Node.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build, type Plugin } from 'esbuild';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');
const require = createRequire(import.meta.url);
const started = Date.now();

/**
 * etcd3 loads its .proto files from disk when it is first required; inside one file there is no disk
 * copy. Parse them now and put the protobufjs JSON descriptor in the bundle instead.
 */
function etcdProtoPlugin(): Plugin {
  return {
    name: 'etcd3-inline-proto',
    setup(b) {
      b.onLoad({ filter: /etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        const call = /\(0, proto_loader_1\.loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`, \{/;
        if (!call.test(source))
          throw new Error(`etcd3 changed: ${args.path} no longer calls loadSync on rpc.proto`);
        // The protobufjs that etcd3's own @grpc/proto-loader uses, so the descriptor matches its fromJSON.
        const fromEtcd = createRequire(args.path);
        const protoLoader = fromEtcd.resolve('@grpc/proto-loader');
        const protobuf = createRequire(protoLoader)('protobufjs') as typeof import('protobufjs');
        const rootNs = new protobuf.Root();
        rootNs.loadSync(join(dirname(args.path), '../proto/rpc.proto'), { keepCase: true });
        const descriptor = JSON.stringify(rootNs.toJSON());
        const contents = source.replace(call, `(0, proto_loader_1.fromJSON)(${descriptor}, {`);
        return { contents, loader: 'js' };
      });
    },
  };
}

/**
 * @chainsafe/libp2p-yamux answers every data frame it reads with a window update, so each membership
 * heartbeat (a few hundred bytes, once a second to every peer) cost a second encrypted frame, a socket
 * write and a wake-up of the sender. Send the update only once half the receive window is used, as Go's
 * yamux (the protocol's reference) does: same wire protocol, the sender still has at least half a window
 * of credit. Worth about a tenth of an idle agent's CPU at N = 10.
 */
function yamuxWindowUpdatePlugin(): Plugin {
  return {
    name: 'yamux-lazy-window-update',
    setup(b) {
      b.onLoad({ filter: /libp2p-yamux[\\/]dist[\\/]src[\\/]stream\.js$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        const check = 'if (this.recvWindowCapacity >= this.recvWindow && flags === 0) {';
        if (!source.includes(check))
          throw new Error(
            `@chainsafe/libp2p-yamux changed: ${args.path} no longer has the window-update check`,
          );
        const contents = source.replace(
          check,
          'if (flags === 0 && this.recvWindow - this.recvWindowCapacity < this.recvWindow / 2) {',
        );
        return { contents, loader: 'js' };
      });
    },
  };
}

/**
 * docker-modem requires ssh2 at its top (for Docker over SSH, which we never use), and ssh2 compiles a
 * WebAssembly Poly1305 with a 16 MB heap as it loads: every agent paid for it. Require it where a
 * connection over SSH is made instead; the deploy code's own ssh2 import loads it when a deploy runs.
 */
function dockerModemLazySshPlugin(): Plugin {
  return {
    name: 'docker-modem-lazy-ssh2',
    setup(b) {
      b.onLoad({ filter: /docker-modem[\\/]lib[\\/]ssh\.js$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        const top = "var Client = require('ssh2').Client,";
        if (!source.includes(top) || !source.includes('new Client()'))
          throw new Error(`docker-modem changed: ${args.path} no longer requires ssh2 at its top`);
        const contents = source.replace(top, 'var').replace('new Client()', "new (require('ssh2').Client)()");
        return { contents, loader: 'js' };
      });
    },
  };
}

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
const bundle = join(dist, 'nokube.cjs');
const result = await build({
  stdin: {
    contents: [
      // head/cli/entry.ts says what each command line loads.
      "import('./head/cli/entry.ts').then((e) => e.runNokube(process.argv)).then(() => process.exit());",
    ].join('\n'),
    resolveDir: root,
    sourcefile: 'nokube-entry.ts',
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  outfile: bundle,
  // Optional native speed-ups of ssh2 (pulled in by dockerode); ssh2 falls back to JS without them.
  external: ['cpu-features', './crypto/build/Release/sshcrypto.node'],
  // ESM code reading import.meta.url gets the bundle's own URL.
  define: { 'import.meta.url': '__nokube_import_meta_url' },
  banner: { js: "const __nokube_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [etcdProtoPlugin(), yamuxWindowUpdatePlugin(), dockerModemLazySshPlugin()],
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  metafile: true,
});
if (result.errors.length > 0) process.exit(1);
// What each input costs in the bundle: `node scripts/bundle-sizes.ts` reads it.
writeFileSync(join(dist, 'meta.json'), JSON.stringify(result.metafile));

// V8 keeps a script's source in memory for its whole life, as one-byte (Latin-1) text only when every
// character fits: the few non-ASCII characters esbuild leaves in comments made the ~6 MB source a ~13 MB
// two-byte string in every agent. Escaping them (\uXXXX is the same character in comments, strings,
// regular expressions and identifiers) keeps it one-byte.
let source = readFileSync(bundle, 'utf8');
// NOKUBE_BUILD_TRACE_MODULES=1: a diagnostic build whose globalThis.__nokubeLoaded lists every module
// evaluated so far, in order. To read it, run the bundle with a preloaded exit hook, e.g.
//   node -r ./hook.cjs dist/nokube.cjs --version   (hook.cjs: on 'exit', write globalThis.__nokubeLoaded)
if (process.env.NOKUBE_BUILD_TRACE_MODULES === '1') {
  const helpers = [
    ['var __esm=(fn,res,err)=>function(){', 'fn'],
    ['var __commonJS=(cb,mod2)=>function(){', 'cb'],
  ] as const;
  for (const [helper, arg] of helpers) {
    if (!source.includes(helper)) throw new Error(`esbuild changed its module helper: no ${helper}`);
    source = source.replace(
      helper,
      `${helper}if(${arg})(globalThis.__nokubeLoaded??=[]).push(__getOwnPropNames(${arg})[0]);`,
    );
  }
}
const ascii = source.replace(
  /[^ -~\t\n\r\v\f]/g,
  (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
);
writeFileSync(bundle, ascii);

// The Node 22 binary of the `node` npm package (node_modules/.bin/node may be a link to it).
const nodeBinary = realpathSync(join(root, 'node_modules', 'node', 'bin', 'node'));
const magic = Buffer.alloc(4);
const fd = openSync(nodeBinary, 'r');
readSync(fd, magic, 0, 4, 0);
closeSync(fd);
if (!magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])))
  throw new Error(`${nodeBinary} is not an ELF executable: reinstall the \`node\` dev-dependency`);
const nodeVersion = execFileSync(nodeBinary, ['--version'], { encoding: 'utf8' }).trim();
if (!nodeVersion.startsWith('v22.')) throw new Error(`${nodeBinary} is Node ${nodeVersion}, not Node 22`);
const seaConfig = join(dist, 'sea-config.json');
const blob = join(dist, 'nokube.blob');
writeFileSync(
  seaConfig,
  JSON.stringify({
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    useSnapshot: false,
  }),
);
execFileSync(nodeBinary, ['--experimental-sea-config', seaConfig], { stdio: 'inherit' });
const out = join(dist, 'nokube');
copyFileSync(nodeBinary, out);
chmodSync(out, 0o755);
// postject warns about ELF note sections it does not name; only real errors are worth showing.
const injected = execFileSync(
  process.execPath,
  [
    require.resolve('postject/dist/cli.js'),
    out,
    'NODE_SEA_BLOB',
    blob,
    '--sentinel-fuse',
    'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
  ],
  { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' },
);
for (const line of injected.split('\n'))
  if (line && !line.includes("Can't find string offset")) console.log(line);
rmSync(blob);
rmSync(seaConfig);
const mb = (f: string) => (statSync(f).size / 1024 / 1024).toFixed(1);
console.log(
  `built ${out} (${mb(out)} MB; bundle ${mb(bundle)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
