// The host's resolver configuration (network.resolvConf, kubelet's --resolv-conf): read again when the
// file changed, looked at most every CHECK_MS. Its nameservers are the node resolver's upstreams, all of
// them, loopback stubs included (the agent forwards from the host's network namespace, where a stub such
// as systemd-resolved's 127.0.0.53 answers); pods with dnsPolicy Default get the file itself.
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from '../log/logger.ts';
import type { Upstream } from './forward.ts';
import { parseResolvConf, type ResolvConf } from './resolv-conf.ts';

const CHECK_MS = 5000;
const EMPTY: ResolvConf = { nameservers: [], searches: [], options: [] };

export class HostResolv {
  private readonly path: string;
  private readonly log: Logger;
  private readonly port: number;
  private readonly checkMs: number;
  private conf: ResolvConf = EMPTY;
  private mtime = -1;
  private checkedAt = 0;
  private reading: Promise<ResolvConf> | undefined;

  constructor(path: string, log: Logger, opts: { port?: number; checkMs?: number } = {}) {
    this.path = path;
    this.log = log;
    this.port = opts.port ?? 53;
    this.checkMs = opts.checkMs ?? CHECK_MS;
  }

  async get(): Promise<ResolvConf> {
    if (Date.now() - this.checkedAt < this.checkMs) return this.conf;
    this.reading ??= this.read().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  async upstreams(): Promise<Upstream[]> {
    return (await this.get()).nameservers.map((address) => ({ address, port: this.port }));
  }

  private async read(): Promise<ResolvConf> {
    this.checkedAt = Date.now();
    const mtime = await stat(this.path).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    if (mtime === this.mtime) return this.conf;
    this.mtime = mtime;
    const text = mtime === 0 ? undefined : await readFile(this.path, 'utf8').catch(() => undefined);
    this.conf = text === undefined ? EMPTY : parseResolvConf(text);
    if (this.conf.nameservers.length === 0)
      this.log.warn(
        { file: this.path },
        'no nameserver in network.resolvConf: names outside the cluster domain are answered SERVFAIL',
      );
    return this.conf;
  }
}
