// nokube acl certificate deny|list|allow: the heads' deny-list of client certificates, by serial number.
// A client certificate of the cluster CA is valid until it expires; denying it makes every head refuse it
// (401) from the next request on and close its open streams within 10 s, without a new CA. Given a
// certificate's file, its serial and CN are read from it (the file stays where it is).
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';
import type { DeniedCertificate } from '../../acl/store.ts';
import { type HeadFlags, headDelete, headGet, headPost } from '../head-client.ts';
import { headOptions } from '../manifest-files.ts';
import { parseOutput, serialize, table } from '../output.ts';

/** A serial in hex as given, or the serial and CN of a PEM certificate file. */
async function certificateOf(arg: string): Promise<{ serial: string; name?: string }> {
  if (/^(serial=)?[0-9a-fA-F:]+$/.test(arg)) return { serial: arg };
  let pem: string;
  try {
    pem = await readFile(arg, 'utf8');
  } catch (err) {
    throw new UsageError(
      `${arg}: neither a serial number (hex) nor a readable file (${(err as Error).message})`,
    );
  }
  try {
    const cert = new X509Certificate(pem);
    const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
    return { serial: cert.serialNumber, ...(cn ? { name: cn } : {}) };
  } catch (err) {
    throw new UsageError(`${arg}: not a PEM certificate (${(err as Error).message})`);
  }
}

export function registerAclCertificates(acl: Command): void {
  const cert = acl
    .command('certificate')
    .description("the heads' deny-list of client certificates (by serial number)");
  headOptions(
    cert
      .command('deny')
      .argument(
        '<serial|file>',
        "the certificate's serial number (hex, as `nokube audit` shows it) or its PEM file",
      )
      .option('--reason <text>', 'why (kept with the entry)', '')
      .description('refuse a client certificate on every head from the next request on'),
  ).action(async (arg: string, opts: HeadFlags & { reason: string }) => {
    const c = await certificateOf(arg);
    const r = await headPost<{ outcome: string; certificate: DeniedCertificate }>(
      opts,
      '/api/v1/acl/denied-certificates',
      { ...c, reason: opts.reason },
    );
    const name = r.certificate.name ? ` "${r.certificate.name}"` : '';
    process.stdout.write(
      r.outcome === 'created'
        ? `certificate${name} (serial ${r.certificate.serial}) denied\n`
        : `certificate${name} (serial ${r.certificate.serial}) was denied already (${r.certificate.time})\n`,
    );
  });
  headOptions(
    cert
      .command('list')
      .option('-o, --output <format>', 'json or yaml')
      .description('the denied client certificates'),
  ).action(async (opts: HeadFlags & { output?: string }) => {
    const format = parseOutput(opts.output);
    const { body } = await headGet<{ items: DeniedCertificate[] }>(opts, '/api/v1/acl/denied-certificates');
    if (format === 'json' || format === 'yaml') return void process.stdout.write(serialize(body, format));
    process.stdout.write(
      table(
        ['SERIAL', 'NAME', 'DENIED', 'REASON'],
        body.items.map((d) => [d.serial, d.name ?? '', d.time, d.reason]),
      ),
    );
  });
  headOptions(
    cert
      .command('allow')
      .argument('<serial|file>', "the certificate's serial number (hex) or its PEM file")
      .description('take a client certificate off the deny-list'),
  ).action(async (arg: string, opts: HeadFlags) => {
    const { serial } = await certificateOf(arg);
    const r = await headDelete<{ serial: string }>(
      opts,
      `/api/v1/acl/denied-certificates/${encodeURIComponent(serial.replace(/:/g, '').replace(/^serial=/i, ''))}`,
    );
    process.stdout.write(`certificate with serial ${r.serial} allowed again\n`);
  });
}
