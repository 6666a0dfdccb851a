// Kubernetes name syntax (RFC 1123 labels and subdomains, label keys and values) as plain checks whose
// messages say what is expected; schema/names.ts makes zod schemas of them. Apart so that what only checks
// a name (the scheduler's selectors, the CLI) does not load the validator.

const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS_LABEL = new RegExp(`^${LABEL}$`);
const DNS_SUBDOMAIN = new RegExp(`^${LABEL}(\\.${LABEL})*$`);
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

export const DNS_SUBDOMAIN_MESSAGE =
  "must be a lowercase RFC 1123 subdomain: at most 253 characters of a-z, 0-9, '-' or '.', starting and ending with a letter or digit";
export const DNS_LABEL_MESSAGE =
  "must be a lowercase RFC 1123 label: at most 63 characters of a-z, 0-9 or '-', starting and ending with a letter or digit";

export const isDnsSubdomain = (s: string): boolean => s.length <= 253 && DNS_SUBDOMAIN.test(s);
export const isDnsLabel = (s: string): boolean => s.length <= 63 && DNS_LABEL.test(s);

/** Why a label or annotation key is invalid, or null. `prefix/name`, prefix a DNS subdomain. */
export function labelKeyProblem(key: string): string | null {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !isDnsSubdomain(prefix))
    return `invalid key "${key}": the prefix before '/' ${DNS_SUBDOMAIN_MESSAGE}`;
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name))
    return `invalid key "${key}": the name must be at most 63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit (optionally prefixed by a DNS subdomain and '/')`;
  return null;
}

export function labelValueProblem(value: string): string | null {
  if (value === '' || (value.length <= 63 && QUALIFIED_NAME.test(value))) return null;
  return `invalid value "${value}": must be empty or at most 63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
}
