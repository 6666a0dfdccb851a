// The agent's bound on probes: at most MAX_CONCURRENT_PROBES run at once (each is a Docker exec, an
// HTTP request, a TCP connect or a gRPC call, so this also bounds the sockets and engine calls probes
// hold), the rest wait their turn. A probe's timeoutSeconds counts from when it runs, not while it
// waits. Every probe worker waits with at most one attempt, so the queue holds at most one per probe;
// MAX_QUEUED_PROBES only guards against more probes than that on one agent: an attempt refused is
// skipped, and the next period tries again.
import { type BulkheadPolicy, bulkhead } from 'cockatiel';

export const MAX_CONCURRENT_PROBES = 16;
export const MAX_QUEUED_PROBES = 1000;

export type ProbeSlots = BulkheadPolicy;

export const probeSlots = (): ProbeSlots => bulkhead(MAX_CONCURRENT_PROBES, MAX_QUEUED_PROBES);
