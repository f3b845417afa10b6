/**
 * Time bins that follow the range asked about: a day of data in 15-minute
 * bins, a month in days. The pivot chooses in TypeScript, the saved
 * queries in SQL (`binMinutesSql`), from the same steps.
 */

/** The bin widths, in minutes, a range is drawn in. */
export const BIN_STEPS = [1, 5, 15, 60, 360, 1440] as const;

/** About how many bins a range is cut into (at most this many, but for ranges over BIN_STEPS' last step times it). */
export const BINS_AIMED = 120;

/** Widest `bin_minutes` a client may ask for (a year). */
export const MAX_BIN_MINUTES = 525_600;

/** The bin width for a range of `spanMs`: the narrowest step that keeps it within BINS_AIMED bins. */
export function chooseBinMinutes(spanMs: number): number {
  const minutes = Math.max(0, spanMs) / 60_000;
  return BIN_STEPS.find((s) => minutes / s <= BINS_AIMED) ?? (BIN_STEPS[BIN_STEPS.length - 1] as number);
}

/** The same choice in SQL, from a span in minutes (a DOUBLE expression). */
export function binMinutesSql(spanMinutes: string): string {
  return `CASE ${BIN_STEPS.slice(0, -1).map((s) => `WHEN ${spanMinutes} <= ${s * BINS_AIMED} THEN ${s}`).join(' ')} ELSE ${BIN_STEPS[BIN_STEPS.length - 1]} END`;
}
