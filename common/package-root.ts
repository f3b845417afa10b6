/**
 * The folder holding s3sift's package.json: one up from the sources (tests
 * run them), two up from their build in dist/ (the CLI runs that). Files
 * shipped beside the code (the detection library, package.json, docs) are
 * found from here.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT: string = fileURLToPath(
  [new URL('../', import.meta.url), new URL('../../', import.meta.url)].find((u) => existsSync(new URL('package.json', u))) ?? new URL('../', import.meta.url),
);
