/**
 * The one place where DuckDB and Athena (Trino) SQL differ for s3sift.
 * Detection SQL is written in the functions both engines share, plus the
 * Trino names below, which DuckDB gets as macros here; the Athena backend
 * then runs the same text. Anything else engine-specific belongs here too.
 *
 * Trino functions: https://trino.io/docs/current/functions.html
 */
import { DuckDBScalarFunction, INTEGER, LIST, listValue, VARCHAR, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { INTEL_KINDS, IntelSet, type IntelKind } from './intel.js';
import { analyzePolicy, parsePolicy, type PolicyAnalysis } from './policy.js';

/** Trino functions DuckDB lacks (or names differently), as DuckDB macros. */
export const DUCKDB_MACROS: ReadonlyArray<[name: string, sql: string]> = [
  // regexp_extract(string, pattern[, group]): NULL when the pattern does not match (Trino); DuckDB's own
  // returns '' then, which reads as a value (an account '' is "another account"). The built-in is
  // called by its full name. A group that did not take part in a match stays '' (Trino: NULL). DuckDB's
  // fourth argument (regex options) is not taken: a macro cannot pass it on, as it must be a constant;
  // write (?i) in the pattern instead.
  ['regexp_extract', 'CREATE OR REPLACE MACRO regexp_extract(s, p, g := 0) AS CASE WHEN regexp_matches(s, p) THEN system.main.regexp_extract(s, p, g) END'],
  // regexp_like(string, pattern): true if the pattern matches anywhere (Trino). DuckDB: regexp_matches.
  ['regexp_like', 'CREATE OR REPLACE MACRO regexp_like(s, p) AS regexp_matches(s, p)'],
  // json_extract_scalar(json, path) -> varchar (Trino). DuckDB: json_extract_string, which spells a
  // key with dashes $."x-amz-acl" where Trino spells it $["x-amz-acl"]: the macro rewrites the path.
  // Trino gives NULL for an object or array (only scalars are extracted); DuckDB would give their JSON text.
  ['json_extract_scalar', `CREATE OR REPLACE MACRO json_extract_scalar(j, p) AS CASE WHEN json_type(j, regexp_replace(p, '\\["([^"]*)"\\]', '."\\1"', 'g')) NOT IN ('OBJECT', 'ARRAY') THEN json_extract_string(j, regexp_replace(p, '\\["([^"]*)"\\]', '."\\1"', 'g')) END`],
  // split_part(string, delimiter, index): NULL past the last field (Trino); DuckDB's own gives ''.
  ['split_part', 'CREATE OR REPLACE MACRO split_part(s, d, i) AS CASE WHEN i <= len(string_split(s, d)) THEN system.main.split_part(s, d, i) END'],
  // json_array_length(json): NULL for anything but an array (Trino); DuckDB's own gives 0.
  // DuckDB's form with a path is kept as it is (Trino has none).
  ['json_array_length', "CREATE OR REPLACE MACRO json_array_length(j) AS CASE WHEN json_type(j) = 'ARRAY' THEN system.main.json_array_length(j) END, (j, path) AS system.main.json_array_length(j, path)"],
  // json_format(json) -> varchar (Trino). DuckDB: a cast.
  ['json_format', 'CREATE OR REPLACE MACRO json_format(j) AS CAST(j AS VARCHAR)'],
  // from_unixtime(seconds) -> timestamp (Trino). DuckDB: to_timestamp gives TIMESTAMPTZ; keep naive UTC.
  ['from_unixtime', "CREATE OR REPLACE MACRO from_unixtime(s) AS CAST(to_timestamp(s) AT TIME ZONE 'UTC' AS TIMESTAMP)"],
  // cardinality(array) -> number of items (Trino). DuckDB's cardinality is for maps; len for lists.
  ['cardinality', 'CREATE OR REPLACE MACRO cardinality(l) AS len(l)'],
  // slice(array, start, length) (Trino). DuckDB: list_slice(list, begin, end), both ends included.
  ['slice', 'CREATE OR REPLACE MACRO slice(l, s, n) AS list_slice(l, s, s + n - 1)'],
  // to_unixtime(timestamp) -> double seconds (Trino). DuckDB: epoch.
  ['to_unixtime', 'CREATE OR REPLACE MACRO to_unixtime(t) AS epoch(t)'],
  // The items of a JSON value that is an array, or the value itself in a one-item list (a policy's
  // Statement, a Principal's AWS, ... may be either). Trino: CAST(json AS ARRAY(JSON)) with the same guard.
  ['json_items', "CREATE OR REPLACE MACRO json_items(j) AS CASE WHEN j IS NULL THEN []::JSON[] WHEN json_type(j) = 'ARRAY' THEN json_extract(j, '$[*]') ELSE [j] END"],
];

/**
 * Make the shared dialect available on a DuckDB connection (UTC session,
 * Trino names), and s3sift's functions, the threat-intel ones over `intel`
 * (none given: they match nothing and count no entries).
 */
export async function installDialect(conn: DuckDBConnection, intel: IntelSet = new IntelSet()): Promise<void> {
  await conn.run("SET TimeZone = 'UTC'");
  for (const [, sql] of DUCKDB_MACROS) await conn.run(sql);
  registerPolicyFunctions(conn);
  registerIntelFunctions(conn, intel);
}

/**
 * s3sift's own functions, backed by the TypeScript policy evaluator
 * (query/policy.ts), so a detection and the posture command judge a policy
 * the same way. They exist on DuckDB only: a detection that calls one does
 * not run on Athena (the renderer says so).
 */
export const NATIVE_FUNCTIONS = ['s3sift_policy_external_accounts', 's3sift_policy_analysis', 's3sift_intel_labels', 's3sift_intel_entries'] as const;

/** The s3sift function `sql` calls, if any: such SQL runs on DuckDB only. */
export function nativeFunctionIn(sql: string): string | undefined {
  return NATIVE_FUNCTIONS.find((f) => new RegExp(`\\b${f}\\s*\\(`, 'i').test(sql));
}

function registerPolicyFunctions(conn: DuckDBConnection): void {
  // (policy JSON text, bucket, owner account) -> accounts other than the owner the policy lets in.
  policyFunction(conn, 's3sift_policy_external_accounts', LIST(VARCHAR), (a) => listValue(a.externalAccounts));
  // (policy JSON text, bucket, owner account) -> the policy's analysis as JSON text, the very object `s3sift posture`
  // keeps for a PutBucketPolicy (public, publicStatements, vpcEndpoints, vpcs, externalAccounts, ...). The policy may be
  // an object's JSON or a JSON string holding one (CloudTrail logs an object).
  policyFunction(conn, 's3sift_policy_analysis', VARCHAR, (a) => JSON.stringify(a));
}

/** A scalar function of (policy JSON text, bucket, owner account): `result` of the policy's analysis; NULL when the text is not a policy. */
function policyFunction(conn: DuckDBConnection, name: string, returnType: DuckDBType, result: (a: PolicyAnalysis) => DuckDBValue): void {
  conn.registerScalarFunction(
    DuckDBScalarFunction.create({
      name,
      returnType,
      parameterTypes: [VARCHAR, VARCHAR, VARCHAR],
      specialHandling: true,
      mainFunction: (_info, input, output) => {
        const [docs, buckets, owners] = [0, 1, 2].map((i) => input.getColumnVector(i));
        for (let row = 0; row < input.rowCount; row++) {
          const doc = docs?.getItem(row);
          const policy = typeof doc === 'string' ? parsePolicy(doc) : null;
          const owner = owners?.getItem(row);
          output.setItem(row, policy ? result(analyzePolicy(policy, String(buckets?.getItem(row) ?? ''), typeof owner === 'string' ? owner : null)) : null);
        }
        output.flush();
      },
    }),
  );
}

const kindArg = (v: unknown): IntelKind | undefined => ((INTEL_KINDS as readonly unknown[]).includes(v) ? (v as IntelKind) : undefined);

/**
 * The threat-intel lists of `--intel` (query/intel.ts), matched in
 * TypeScript: an address text's family and prefixes are parsed once, not by
 * SQL over hostile text. Call them over distinct addresses: a log repeats few.
 */
function registerIntelFunctions(conn: DuckDBConnection, intel: IntelSet): void {
  // (address text, kind 'alarm' | 'label') -> the sorted labels of the lists of that kind holding it; [] for
  // text that is not an address ('-', 'AWS Internal', 's3.amazonaws.com', garbage) and for NULL.
  conn.registerScalarFunction(
    DuckDBScalarFunction.create({
      name: 's3sift_intel_labels',
      returnType: LIST(VARCHAR),
      parameterTypes: [VARCHAR, VARCHAR],
      specialHandling: true,
      mainFunction: (_info, input, output) => {
        const [ips, kinds] = [0, 1].map((i) => input.getColumnVector(i));
        for (let row = 0; row < input.rowCount; row++) {
          const ip = ips?.getItem(row);
          const kind = kindArg(kinds?.getItem(row));
          output.setItem(row, listValue(typeof ip === 'string' && kind ? intel.labels(ip, kind) : []));
        }
        output.flush();
      },
    }),
  );
  // (kind) -> how many entries of that kind the lists hold: 0 says the detection checked nothing.
  conn.registerScalarFunction(
    DuckDBScalarFunction.create({
      name: 's3sift_intel_entries',
      returnType: INTEGER,
      parameterTypes: [VARCHAR],
      specialHandling: true,
      mainFunction: (_info, input, output) => {
        const kinds = input.getColumnVector(0);
        for (let row = 0; row < input.rowCount; row++) {
          const kind = kindArg(kinds.getItem(row));
          output.setItem(row, kind ? intel.count(kind) : null);
        }
        output.flush();
      },
    }),
  );
}
