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
  timeoutMs: { default: 5000, help: 'longest a query may take, preparing included, in milliseconds (then 408)', min: 1, max: 3_600_000 },
  rowCap: { default: 10_000, help: 'most rows an answer holds (then "truncated": true)', min: 1, max: 10_000_000 },
  byteCap: { default: 4 * 1024 * 1024, help: 'most bytes an answer holds, its rows as JSON (then "truncated": true)', min: 1024, max: 1024 * 1024 * 1024 },
  maxConcurrent: { default: 2, help: 'user queries running at once (each holds one of Node\'s UV_THREADPOOL_SIZE worker threads; 2 more stay free for saved queries and files)', min: 1, max: 256 },
  maxQueued: { default: 64, help: 'queries waiting for a slot before the answer is 429', min: 0, max: 100_000 },
  bodyLimit: { default: 64 * 1024, help: 'largest request body, in bytes (then 413)', min: 1, max: 64 * 1024 * 1024 },
  memoryLimitMb: { default: 4096, help: 'memory DuckDB may use for the dataset, in MiB (a query past it fails with a 400, the server stays up); findings are computed within it too', min: 64, max: 1024 * 1024 },
} as const satisfies Record<string, Setting>;

/** Host names the server answers to besides its own address (and, on loopback, localhost, 127.0.0.1, [::1]). */
export const ALLOWED_HOSTS = {
  default: [] as readonly string[],
  help: 'also answer to Host NAME (any port), e.g. a reverse proxy\'s name; other names are refused (421) against DNS rebinding',
};

/** Connections for saved queries and the server's own reads, apart from user SQL's. */
export const INTERNAL_CONNECTIONS = 1;

/**
 * Worker threads of Node's pool (UV_THREADPOOL_SIZE, 4 unless set before
 * Node starts) the server needs: each running DuckDB call holds one, so one
 * per user query, the saved queries' and one for files.
 */
export function workerThreadsNeeded(maxConcurrent: number): number {
  return maxConcurrent + INTERNAL_CONNECTIONS + 1;
}

/** Each setting's default. */
export const DEFAULTS = {
  timeoutMs: SETTINGS.timeoutMs.default,
  rowCap: SETTINGS.rowCap.default,
  byteCap: SETTINGS.byteCap.default,
  maxConcurrent: SETTINGS.maxConcurrent.default,
  maxQueued: SETTINGS.maxQueued.default,
  bodyLimit: SETTINGS.bodyLimit.default,
  memoryLimitMb: SETTINGS.memoryLimitMb.default,
} as const;
