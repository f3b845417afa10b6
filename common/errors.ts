/**
 * The few error classes s3sift throws. Library code throws them; each entry
 * point (the CLI, the HTTP app) has one boundary that turns them into an exit
 * code or an HTTP status. Messages say what went wrong, where, and what to do.
 */
export type ErrorCode =
  | 'usage' // bad flags or arguments
  | 'input' // a source that cannot be read
  | 'dataset' // the dataset folder is unusable (locked, corrupt manifest)
  | 'query' // SQL that fails
  | 'detection' // a detection file that does not hold together
  | 'internal';

export class S3siftError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad flags or arguments: the CLI prints usage and exits 2. */
export class UsageError extends S3siftError {
  constructor(message: string) {
    super('usage', message);
  }
}

/** A source that does not exist or cannot be read: exit 2. */
export class InputError extends S3siftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('input', message, options);
  }
}

/** The dataset folder cannot be used as asked: exit 2. */
export class DatasetError extends S3siftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('dataset', message, options);
  }
}

/**
 * The run could not write its own files (a full disk, a quota, a folder
 * turned read-only): the run stops and commits nothing; exit 2.
 */
export class WriteError extends DatasetError {}

/** A WriteError saying what could not be written and why, in words. */
export function writeError(what: string, err: unknown): WriteError {
  if (err instanceof WriteError) return err;
  const e = err as NodeJS.ErrnoException;
  const text = describe(err);
  const code = e?.code ?? (/no space left on device/i.test(text) ? 'ENOSPC' : /quota/i.test(text) ? 'EDQUOT' : undefined);
  const why = code === 'ENOSPC' ? 'no space left on device' : code === 'EDQUOT' ? 'disk quota exceeded' : code === 'EROFS' ? 'read-only file system' : text;
  return new WriteError(`${what}: cannot write: ${why}; nothing from this run was committed (free some space and run again)`, { cause: err });
}

/** SQL that DuckDB refuses or that fails while running: exit 2, HTTP 400. */
export class QueryError extends S3siftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('query', message, options);
  }
}

/** A detection file that is invalid (unknown key, bad SQL, unknown column, ...): exit 2. */
export class DetectionError extends S3siftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('detection', message, options);
  }
}

/** Describe any thrown value in one line. */
export function describe(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.message;
  return String(err);
}
