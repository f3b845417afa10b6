/**
 * The server's settings, declared once with their defaults and what they
 * mean: the app takes its defaults from here, and `s3sift serve` its flags
 * and their help (Datasette's `Setting(name, default, help)`).
 */

export interface Setting {
  default: number;
  help: string;
  min: number;
  max: number;
}

export const SETTINGS = {
  timeoutMs: { default: 5000, help: 'longest a query may run, in milliseconds (then 408)', min: 1, max: 3_600_000 },
  rowCap: { default: 10_000, help: 'most rows a query returns (then "truncated": true)', min: 1, max: 10_000_000 },
  maxConcurrent: { default: 4, help: 'queries running at once', min: 1, max: 256 },
  maxQueued: { default: 64, help: 'queries waiting for a slot before the answer is 429', min: 0, max: 100_000 },
  bodyLimit: { default: 64 * 1024, help: 'largest request body, in bytes (then 413)', min: 1, max: 64 * 1024 * 1024 },
} as const satisfies Record<string, Setting>;

/** Each setting's default. */
export const DEFAULTS = {
  timeoutMs: SETTINGS.timeoutMs.default,
  rowCap: SETTINGS.rowCap.default,
  maxConcurrent: SETTINGS.maxConcurrent.default,
  maxQueued: SETTINGS.maxQueued.default,
  bodyLimit: SETTINGS.bodyLimit.default,
} as const;
