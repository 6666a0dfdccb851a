// What GreptimeDB's HTTP answers mean for a body we sent, and the one SQL statement we send it.
//
// Read in GreptimeDB v1.1.4's source (GreptimeTeam/greptimedb):
// - src/servers/src/error.rs `status_code_to_http_status`: InvalidArguments, InvalidSyntax, Unsupported,
//   DatabaseNotFound, TableNotFound, ... -> 400; AuthHeaderNotFound, InvalidAuthHeader, UserNotFound,
//   UserPasswordMismatch, RegionReadonly -> 401; PermissionDenied, AccessDenied -> 403; RateLimited
//   (also a full write buffer, MemoryLimitExceeded) -> 429; RegionNotReady, RegionBusy, StorageUnavailable,
//   TableUnavailable -> 503; Internal, Unexpected -> 500; Cancelled, DeadlineExceeded -> 504.
// - src/servers/src/http/authorize.rs: a failed authentication is a 401 before any handler runs.
// - Remote write (src/servers/src/http/prom_store.rs `remote_write`) and OTLP logs
//   (src/servers/src/http/otlp.rs `logs`) answer a body they cannot decode (DecodePromRemoteRequest,
//   DecompressSnappyPromRemoteRequest, DecodeOtlpRequest, InvalidPromRemoteRequest) with 400 and
//   `{"error": "<message>"}`.
// - A missing database is NOT a 404: writing into one makes the insert path create its table, and
//   src/operator/src/statement/ddl.rs `create_table_inner` fails with SchemaNotFound ("Failed to find
//   schema, schema info: <db>", src/operator/src/error.rs), status InvalidArguments -> 400. So a 400 is a
//   malformed body unless its message says the database is missing; only the message tells them apart
//   (these handlers send no `x-greptime-err-code` header).
// So: 2xx delivered; 400 (and 413, 422: the body itself cannot go) dropped, unless the database is missing;
// a missing database (that 400, or a 404 from anything in front of GreptimeDB) creates it, keeps the body
// and retries; everything else (401, 403, 404, 429, other 4xx, 5xx, no answer) keeps the body and retries.

import type { ClusterConfig } from '../../config/schema.ts';
import { hostForUrl } from '../../net/urls.ts';

export type Verdict = 'delivered' | 'malformed' | 'database-missing' | 'retry';

/** GreptimeDB's words for a database that does not exist (operator SchemaNotFound, catalog errors). */
const DATABASE_MISSING = /failed to find schema|schema not found|database not found|unknown database/i;

/** `status` 0 = no answer (network error, timeout). */
export function verdictOf(status: number, body: string): Verdict {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 404 || (status === 400 && DATABASE_MISSING.test(body))) return 'database-missing';
  if (status === 400 || status === 413 || status === 422) return 'malformed';
  return 'retry';
}

/** What a kept-and-retried answer means, for the log line (the status and body go beside it). */
export function failureMeaning(status: number, verdict: Verdict): string {
  if (verdict === 'database-missing') return 'the database is missing; creating it';
  if (status === 0) return 'GreptimeDB unreachable';
  if (status === 401 || status === 403)
    return 'GreptimeDB refuses the request (authentication or permission)';
  if (status === 429) return 'GreptimeDB asks to slow down';
  if (status >= 500) return 'GreptimeDB failing';
  return `GreptimeDB answers ${status}`;
}

type Greptime = NonNullable<ClusterConfig['monitoring']>['greptimedb'];

/** `http://<address>:<httpPort><path>`. */
export function greptimeUrl(g: Greptime, path: string): string {
  return `http://${hostForUrl(g.address)}:${g.httpPort}${path}`;
}

/**
 * The statement that creates a database when missing. The name is quoted: unquoted identifiers are
 * lower-cased by GreptimeDB's parser (src/sql/src/parser.rs `canonicalize_identifier`) while the
 * `db` parameter and `X-Greptime-DB-Name` header are taken as written. The config allows no backtick in
 * a name (agent/config/schema.ts `greptimeDatabase`), so nothing needs escaping.
 */
export function createDatabaseSql(name: string): string {
  return `CREATE DATABASE IF NOT EXISTS \`${name}\``;
}
