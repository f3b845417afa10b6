/** Instants as the UTC text the dataset, its SQL and S3 key names use. */

/** `YYYY-MM-DD hh:mm:ss.fff` in UTC: what DuckDB and Trino read as a TIMESTAMP. */
export function timestampText(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/** The UTC day of an instant, `YYYY-MM-DD`: a `date` partition's value. */
export function dayText(d: Date): string {
  return d.toISOString().slice(0, 10);
}
