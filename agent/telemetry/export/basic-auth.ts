// GreptimeDB's HTTP basic auth (`monitoring.greptimedb.auth`): the user from the config, the password from a
// file on the node. Read when first needed and again after GreptimeDB refuses it (401/403): fix the file and
// the next retry sends the new password, with nothing lost meanwhile (the Shipper keeps refused data). The
// password stays inside this object: errors name the field and the file, never what it holds.
import { readFile } from 'node:fs/promises';
import type { ClusterConfig } from '../../config/schema.ts';

export type GreptimeAuth = NonNullable<NonNullable<ClusterConfig['monitoring']>['greptimedb']['auth']>;

export class BasicAuth {
  private readonly auth: GreptimeAuth;
  private header: Promise<string> | undefined;

  constructor(auth: GreptimeAuth) {
    this.auth = auth;
  }

  /** The `Authorization` value; rejects (naming the field and the file) when the file cannot be read. */
  authorization(): Promise<string> {
    if (this.header) return this.header;
    const reading = this.read();
    this.header = reading;
    // A failed read is tried again next time (the file may be put in place meanwhile).
    reading.catch(() => {
      if (this.header === reading) this.header = undefined;
    });
    return reading;
  }

  /** GreptimeDB said no (401/403): read the file again before the next try. */
  refused(): void {
    this.header = undefined;
  }

  private async read(): Promise<string> {
    const password = await readGreptimePassword(this.auth.passwordFile);
    return `Basic ${Buffer.from(`${this.auth.user}:${password}`).toString('base64')}`;
  }
}

/** The password in `monitoring.greptimedb.auth.passwordFile` (also read by the head for the GreptimeDB
 * container it starts, head/services/greptimedb-users.ts). Errors name the field and file only. */
export async function readGreptimePassword(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(
      `monitoring.greptimedb.auth.passwordFile ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`,
    );
  }
  // One line: the newline an editor or `echo` leaves at the end is not part of the password.
  const password = text.replace(/\r?\n$/, '');
  if (password === '') throw new Error(`monitoring.greptimedb.auth.passwordFile ${file}: empty`);
  return password;
}
