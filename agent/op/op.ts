// `nokube agent op <base64-json>`: the host side of every deploy operation. Decodes and validates the
// JSON (op-schema.ts), runs it, prints {ok:true, result} as one JSON line on stdout; on any problem
// prints {ok:false, error} and exits non-zero, so the deploying side can name host, step and cause.
import { hostFacts } from './facts.ts';
import { installFiles } from './install.ts';
import { type Op, opSchema } from './op-schema.ts';
import { restartService, serviceState, startService, stopService } from './service.ts';

export class OpError extends Error {}

export function decodeOp(arg: string): Op {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(arg, 'base64').toString('utf8'));
  } catch {
    throw new OpError('agent op: the argument is not base64 of a JSON document');
  }
  const r = opSchema.safeParse(json);
  if (!r.success) {
    const first = r.error.issues[0]!;
    throw new OpError(`agent op: invalid operation at ${first.path.join('.') || '(root)'}: ${first.message}`);
  }
  return r.data;
}

export function encodeOp(op: Op): string {
  return Buffer.from(JSON.stringify(op)).toString('base64');
}

export async function runOp(op: Op): Promise<unknown> {
  switch (op.op) {
    case 'facts':
      return hostFacts(op);
    case 'install':
      return installFiles(op.files);
    case 'start':
      return startService(op.service);
    case 'stop':
      return stopService(op.service);
    case 'restart':
      return restartService(op.service);
    case 'state':
      return serviceState(op.service);
    case 'network-teardown': {
      const { removeNodeNetwork } = await import('../podnet/teardown.ts');
      await removeNodeNetwork(op.cluster, op.node, op.podCidr);
      return { removed: true };
    }
  }
}
