/** Instants as the UTC text the dataset, its SQL and S3 key names use. */

/** `YYYY-MM-DD hh:mm:ss.fff` in UTC: what DuckDB and Trino read as a TIMESTAMP. */
export function timestampText(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/** The UTC day of an instant, `YYYY-MM-DD`: a `date` partition's value. */
export function dayText(d: Date): string {
  return d.toISOString().slice(0, 10);
}

const ISO_8601 = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?(Z|([+-])(\d\d):?(\d\d))?)?$/i;

/**
 * An ISO 8601 date or time (`2025-03-12`, `2025-03-12T08:00`,
 * `2025-03-12 08:00:01.5+02:00`); a date alone is midnight UTC, a time
 * without an offset is UTC. Undefined for anything else, impossible dates
 * (`2025-02-30`, `T24:00`) included, which JavaScript's Date would roll over.
 */
export function parseTime(text: string): Date | undefined {
  const m = ISO_8601.exec(text);
  if (!m) return undefined;
  const n = (i: number): number => Number(m[i] ?? 0);
  const [year, month, day, hour, minute, second, offHours, offMinutes] = [n(1), n(2), n(3), n(4), n(5), n(6), n(10), n(11)];
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) ? 1 : 0);
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59 || offHours > 23 || offMinutes > 59) return undefined;
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const offset = m[9] ? (m[9] === '+' ? 1 : -1) * (offHours * 60 + offMinutes) * 60_000 : 0;
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset);
}
