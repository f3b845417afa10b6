/**
 * Time bins that follow the range asked about: a day of data in 15-minute
 * bins, a month in days. The pivot chooses in TypeScript, the saved
 * queries in SQL (`binMinutesSql`), from the same steps.
 */

/** The bin widths, in minutes, a range is drawn in. */
export const BIN_STEPS = [1, 5, 15, 60, 360, 1440] as const;

/** About how many bins a range is cut into. */
export const BINS_AIMED = 100;

/** Widest `bin_minutes` a client may ask for (a year). */
export const MAX_BIN_MINUTES = 525_600;

/**
 * The longest span (minutes) each step but the last is chosen for: where the
 * bin count of the next step comes closer to BINS_AIMED, on a log scale (a
 * day: 96 bins of 15 minutes; a week: 168 of an hour; a month: 124 of 6 hours).
 */
const UP_TO = BIN_STEPS.slice(0, -1).map((s, i) => BINS_AIMED * Math.sqrt(s * (BIN_STEPS[i + 1] as number)));

/** The bin width for a range of `spanMs`: the step whose bin count is nearest BINS_AIMED. */
export function chooseBinMinutes(spanMs: number): number {
  const minutes = Math.max(0, spanMs) / 60_000;
  const i = UP_TO.findIndex((limit) => minutes <= limit);
  return BIN_STEPS[i === -1 ? BIN_STEPS.length - 1 : i] as number;
}

/** The same choice in SQL, from a span in minutes (a DOUBLE expression). */
export function binMinutesSql(spanMinutes: string): string {
  return `CASE ${UP_TO.map((limit, i) => `WHEN ${spanMinutes} <= ${limit} THEN ${BIN_STEPS[i]}`).join(' ')} ELSE ${BIN_STEPS[BIN_STEPS.length - 1]} END`;
}
