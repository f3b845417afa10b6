/**
 * Writing SQL text for DuckDB and Athena (Trino), which agree on all of it:
 * string and identifier quoting, TIMESTAMP and DATE literals, and detection
 * SQL's `$name` parameters. Quoting is DuckDB's own (`@duckdb/node-api`),
 * through its standalone module so that nothing here loads the native
 * binding (the schema and the Athena DDL quote without DuckDB).
 */
import { quotedIdentifier, quotedString } from '@duckdb/node-api/lib/sql.js';
import { dayText, timestampText } from './time.js';

/**
 * A string literal: `'it''s'`. Trino writes string literals the same way.
 * A NUL cannot stand in SQL text (DuckDB's C API ends the text there, which
 * would leave the quote open): it is spelled `chr(0)`, in both engines, so a
 * NUL in a log value (a bucket name, say) is a value like any other.
 */
export function sqlString(text: string): string {
  return text.includes('\u0000') ? `(${text.split('\u0000').map(quotedString).join(' || chr(0) || ')})` : quotedString(text);
}

/** A quoted identifier: `"key"` (reserved in both engines), `"a""b"`. */
export const sqlIdentifier: (name: string) => string = quotedIdentifier;

/** A TIMESTAMP literal for an instant (UTC, to the millisecond). */
export function sqlTimestamp(d: Date): string {
  return `TIMESTAMP ${sqlString(timestampText(d))}`;
}

/** A DATE literal for the UTC day of an instant. */
export function sqlDate(d: Date): string {
  return `DATE ${sqlString(dayText(d))}`;
}

/** A detection parameter in SQL text: `$name`, snake_case. */
const PARAM = /\$([a-z_][a-z0-9_]*)/g;

/** The names of the `$name` parameters `sql` uses, in order of use (repeats included). */
export function paramNames(sql: string): string[] {
  return [...sql.matchAll(PARAM)].map((m) => m[1] as string);
}

/** `sql` with every `$name` parameter replaced by `by(name)`. */
export function replaceParams(sql: string, by: (name: string) => string): string {
  return sql.replace(PARAM, (_m, name: string) => by(name));
}
