// How long the cluster's certificates are valid, and when they are reported (README "Certificates"). No
// imports: the CLI reads these without loading the X.509 library.

export const DAY_MS = 86_400_000;
/** Validity when `--days` is not given: the CA 10 years, node and CLI certificates 1 year. */
export const CA_VALIDITY_DAYS = 3650;
export const LEAF_VALIDITY_DAYS = 365;
/** Certificates are valid from 5 minutes before they are made: an edge host's clock may run a little behind
 * the operator's, and a certificate "not yet valid" there would stop its agent. */
export const BACKDATE_MS = 5 * 60_000;
/** Under this many days left a certificate is reported (status mark, Warning event). */
export const WARN_DAYS = 30;
