// Kubernetes name syntax (RFC 1123 labels and subdomains, label keys and values) as zod schemas, from the
// plain checks of ../name-rules.ts.
import { z } from 'zod';
import {
  DNS_LABEL_MESSAGE,
  DNS_SUBDOMAIN_MESSAGE,
  isDnsLabel,
  isDnsSubdomain,
  labelKeyProblem,
  labelValueProblem,
} from '../name-rules.ts';

export const dnsSubdomain = z.string().refine(isDnsSubdomain, DNS_SUBDOMAIN_MESSAGE);
export const dnsLabel = z.string().refine(isDnsLabel, DNS_LABEL_MESSAGE);

const keyChecked = (problem: (k: string) => string | null) =>
  z.string().superRefine((k, c) => {
    const p = problem(k);
    if (p) c.addIssue({ code: 'custom', message: p });
  });

export const labels = z.record(
  keyChecked(labelKeyProblem),
  z.string().superRefine((v, c) => {
    const p = labelValueProblem(v);
    if (p) c.addIssue({ code: 'custom', message: p });
  }),
);
export const annotations = z.record(keyChecked(labelKeyProblem), z.string());

/** ConfigMap/Secret data keys: letters, digits, '-', '_', '.'. */
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;
export const dataKey = keyChecked((k) =>
  k.length <= 253 && DATA_KEY.test(k)
    ? null
    : `invalid key "${k}": must be at most 253 characters of letters, digits, '-', '_' or '.'`,
);
